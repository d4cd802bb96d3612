"""Writes the fixtures of Tests/Fixtures/views (filter grids and direct views).

- mobilenetv2_conv0_weight.npy: the first convolution's weight initializer of the bundled
  MobileNetV2, read with onnx.numpy_helper (not by ConvLens), so `convlens filters` can be checked
  to write exactly the model's values.
- bgr_conv.onnx: a 1x1 convolution on a 3-channel input whose metadata says
  convlens.channel_order = BGR. Filter 0 weighs only the model's channel 0 (blue in BGR), filter 1
  only channel 2 (red), so an RGB tile of filter 0 must be blue and of filter 1 red. A Relu follows.

Run from the repository root:  .venv-ref/bin/python Tests/ReferenceGenerators/make_views_fixtures.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "views")
os.makedirs(OUT, exist_ok=True)

model = onnx.load(os.path.join(ROOT, "Sources", "ConvLens", "Resources", "models", "mobilenetv2.onnx"))
first_conv = next(n for n in model.graph.node if n.op_type == "Conv")
assert first_conv.name == "/features/features.0/features.0.0/Conv", first_conv.name
inits = {i.name: i for i in model.graph.initializer}
w = numpy_helper.to_array(inits[first_conv.input[1]])
assert w.shape == (32, 3, 3, 3) and w.dtype == np.float32
np.save(os.path.join(OUT, "mobilenetv2_conv0_weight.npy"), w)

weight = np.zeros((2, 3, 1, 1), dtype=np.float32)
weight[0, 0] = 1.0  # model channel 0 = blue in BGR
weight[1, 2] = 1.0  # model channel 2 = red in BGR
graph = helper.make_graph(
    [helper.make_node("Conv", ["input", "w"], ["conv_out"], name="conv", kernel_shape=[1, 1]),
     helper.make_node("Relu", ["conv_out"], ["relu_out"], name="relu")],
    "bgr_conv",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 4, 4])],
    [helper.make_tensor_value_info("relu_out", TensorProto.FLOAT, [1, 2, 4, 4])],
    [numpy_helper.from_array(weight, "w")])
m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="convlens-fixtures")
m.ir_version = 8
helper.set_model_props(m, {"convlens.channel_order": "BGR"})
onnx.checker.check_model(m)
onnx.save(m, os.path.join(OUT, "bgr_conv.onnx"))
print("wrote", OUT)
