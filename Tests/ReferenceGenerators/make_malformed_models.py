"""Writes small malformed-but-parseable ONNX models to Tests/Fixtures/malformed/.

Each must make ConvLens's importer fail with a ConvLensError (exit 2), never trap. Expected message
fragments are in malformed/expected.json. Run from the repository root:
    .venv-ref/bin/python Tests/ReferenceGenerators/make_malformed_models.py
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "Fixtures", "malformed")
os.makedirs(OUT, exist_ok=True)


def model(nodes, inits=(), inp=("x", [1, 2, 8, 8]), out="y", opset=13):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(inp[0], TensorProto.FLOAT, inp[1])],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def f32(name, shape, value=0.5):
    return numpy_helper.from_array(np.full(shape, value, dtype=np.float32), name)


cases = {
    # Constant inputs whose shapes do not broadcast: folded at import, must be validated first.
    "const_add_mismatch": (model([helper.make_node("Add", ["a", "b"], ["c"], name="bad_add"),
                                  helper.make_node("Add", ["x", "c"], ["y"], name="use")],
                                 [f32("a", [2]), f32("b", [3])]), "do not broadcast"),
    "relu_without_input": (model([helper.make_node("Relu", [], ["y"], name="lonely")]), "needs 1 input"),
    "add_one_input": (model([helper.make_node("Add", ["x"], ["y"], name="half")]), "needs 2 inputs"),
    "duplicate_output": (model([helper.make_node("Relu", ["x"], ["t"], name="r1"),
                                helper.make_node("Relu", ["x"], ["t"], name="r2"),
                                helper.make_node("Identity", ["t"], ["y"], name="i")]), "already defines"),
    "huge_dilation": (model([helper.make_node("Conv", ["x", "w"], ["y"], name="dil", dilations=[2**62, 1])],
                            [f32("w", [2, 2, 3, 3])]), "beyond"),
    "convtranspose_output_padding": (model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="ct",
                                                             output_padding=[1])], [f32("w", [2, 2, 3, 3])]),
                                     "output_padding"),
    "resize_huge_scale": (model([helper.make_node("Resize", ["x", "", "s"], ["y"], name="big")],
                                [numpy_helper.from_array(np.array([1, 1, 1e30, 1e30], np.float32), "s")]),
                          "Resize"),
    "kernel_larger_than_input": (model([helper.make_node("Conv", ["x", "w"], ["y"], name="wide")],
                                       [f32("w", [2, 2, 9, 9])]), "empty"),
    "negative_pads": (model([helper.make_node("Conv", ["x", "w"], ["y"], name="neg", pads=[0, -1, 0, 0], group=2)],
                            [f32("w", [2, 1, 3, 3])]), "pads"),
    "constant_of_shape_huge": (model([helper.make_node("ConstantOfShape", ["shape"], ["big"], name="huge"),
                                      helper.make_node("Add", ["x", "big"], ["y"], name="use")],
                                     [numpy_helper.from_array(np.array([1 << 30, 4], np.int64), "shape")]),
                               "elements"),
}
expected = {}
for name, (m, fragment) in cases.items():
    onnx.save(m, os.path.join(OUT, name + ".onnx"))
    expected[name + ".onnx"] = fragment
with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
print("wrote", len(cases), "models to", OUT)
