"""Writes the single-conv model of the dataset-scan tests to Tests/Fixtures/scan/.

`blobconv.onnx`: input x [1, 3, 16, 16]; one Conv `/blob/Conv` (2 output channels, 3x3, pad 1,
stride 1, no bias) whose channel 0 sums the red samples of a 3x3 box and channel 1 sums the green
ones; then Relu `/blob/Relu`. No preprocessing metadata, so a 16x16 PNG becomes pixels / 255. A
3x3 red blob of value v centred at (y, x) therefore gives channel 0 its maximum 9*v/255 at (y, x),
which makes the top-K of a scan known by construction (the images are written by the Swift test).
Run from the repository root:
    .venv-ref/bin/python Tests/ReferenceGenerators/make_scan_fixtures.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "Fixtures", "scan")
os.makedirs(OUT, exist_ok=True)

w = np.zeros((2, 3, 3, 3), dtype=np.float32)
w[0, 0] = 1.0  # red
w[1, 1] = 1.0  # green
g = helper.make_graph(
    [helper.make_node("Conv", ["x", "w"], ["c"], name="/blob/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
     helper.make_node("Relu", ["c"], ["y"], name="/blob/Relu")],
    "blobconv",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 16, 16])],
    [numpy_helper.from_array(w, "w")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_scan_fixtures.py")
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, os.path.join(OUT, "blobconv.onnx"))
print("wrote", os.path.join(OUT, "blobconv.onnx"))
