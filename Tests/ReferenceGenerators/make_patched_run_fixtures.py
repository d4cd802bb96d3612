"""Writes two small hand-built models for the attribution tests.

Tests/Fixtures/attribution/gate_avgpool/model.onnx: a squeeze-excitation gate whose pooling
is an AveragePool window the size of the map (not GlobalAveragePool), so that the gate is a
[1, C, 1, 1] tensor computed by a window operator. Occlusion's incremental forward pass must treat
the changed gate as changing every output of the Mul (AttributionReferenceTests).
Tests/Fixtures/attribution/softmax_flatten/model.onnx: a classifier whose Softmax is followed by a
Flatten, so the class scores are found by walking back through shape-only nodes.
Tests/Fixtures/attribution/stack_shapes/model.onnx: inputs that must not be stacked naively when
occlusion runs windows together: a Concat with a constant map, a Mul whose first input is a
computed (Identity of a constant) [C, 1, 1] scale, and an Add of a [1, H, W] tensor (a Squeeze of a
one-channel map) to a [1, C, H, W] one.
Run from the repository root:  .venv-ref/bin/python Tests/ReferenceGenerators/make_patched_run_fixtures.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Fixtures", "attribution", "gate_avgpool")


def main():
    rng = np.random.default_rng(5)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.4, "w")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32) * 0.1, "b")
    fc = numpy_helper.from_array(rng.standard_normal((3, 4)).astype(np.float32), "fc")
    fcb = numpy_helper.from_array(np.zeros(3, np.float32), "fcb")
    nodes = [
        helper.make_node("Conv", ["input", "w", "b"], ["conv"], name="conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("AveragePool", ["relu"], ["pool"], name="pool", kernel_shape=[16, 16]),
        helper.make_node("Sigmoid", ["pool"], ["gate"], name="gate"),
        helper.make_node("Mul", ["relu", "gate"], ["scaled"], name="scaled"),
        helper.make_node("GlobalAveragePool", ["scaled"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flat"),
        helper.make_node("Gemm", ["flat", "fc", "fcb"], ["logits"], name="logits", transB=1),
    ]
    graph = helper.make_graph(nodes, "gate_avgpool", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])], [w, b, fc, fcb])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    os.makedirs(OUT, exist_ok=True)
    onnx.save(model, os.path.join(OUT, "model.onnx"))
    np.save(os.path.join(OUT, "input.npy"), rng.standard_normal((1, 3, 16, 16)).astype(np.float32))

    # Softmax followed by Flatten.
    out2 = os.path.join(HERE, "..", "Fixtures", "attribution", "softmax_flatten")
    nodes2 = nodes[:2] + [
        helper.make_node("GlobalAveragePool", ["relu"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flat"),
        helper.make_node("Gemm", ["flat", "fc", "fcb"], ["scores"], name="scores", transB=1),
        helper.make_node("Softmax", ["scores"], ["probs"], name="probs", axis=1),
        helper.make_node("Flatten", ["probs"], ["out"], name="out"),
    ]
    graph2 = helper.make_graph(nodes2, "softmax_flatten", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])],
                               [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3])], [w, b, fc, fcb])
    model2 = helper.make_model(graph2, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model2)
    os.makedirs(out2, exist_ok=True)
    onnx.save(model2, os.path.join(out2, "model.onnx"))

    # Stacking hazards.
    rng3 = np.random.default_rng(7)
    out3 = os.path.join(HERE, "..", "Fixtures", "attribution", "stack_shapes")
    init3 = [
        numpy_helper.from_array(rng3.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.4, "w1"),
        numpy_helper.from_array(rng3.standard_normal((1, 2, 16, 16)).astype(np.float32), "coords"),
        numpy_helper.from_array(rng3.uniform(0.5, 1.5, (6, 1, 1)).astype(np.float32), "s0"),
        numpy_helper.from_array(rng3.standard_normal((1, 6, 3, 3)).astype(np.float32) * 0.3, "w2"),
        numpy_helper.from_array(np.array([0], np.int64), "axis0"),
        numpy_helper.from_array(rng3.standard_normal((5, 6, 1, 1)).astype(np.float32) * 0.4, "w3"),
        numpy_helper.from_array(rng3.standard_normal((3, 5)).astype(np.float32), "fc"),
        numpy_helper.from_array(np.zeros(3, np.float32), "fcb"),
    ]
    nodes3 = [
        helper.make_node("Conv", ["input", "w1"], ["c1"], name="c1", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
        helper.make_node("Concat", ["r1", "coords"], ["cat"], name="cat", axis=1),
        helper.make_node("Identity", ["s0"], ["scale"], name="scale"),
        helper.make_node("Mul", ["scale", "cat"], ["m"], name="m"),
        helper.make_node("Conv", ["m", "w2"], ["c2"], name="c2", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Squeeze", ["c2", "axis0"], ["sq"], name="sq"),
        helper.make_node("Add", ["m", "sq"], ["a"], name="a"),
        helper.make_node("Conv", ["a", "w3"], ["c3"], name="c3", kernel_shape=[1, 1]),
        helper.make_node("GlobalAveragePool", ["c3"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flat"),
        helper.make_node("Gemm", ["flat", "fc", "fcb"], ["logits"], name="logits", transB=1),
    ]
    graph3 = helper.make_graph(nodes3, "stack_shapes", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])],
                               [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])], init3)
    model3 = helper.make_model(graph3, opset_imports=[helper.make_opsetid("", 17)])
    model3.ir_version = 8  # readable by the pinned ONNX Runtime too
    onnx.checker.check_model(model3)
    os.makedirs(out3, exist_ok=True)
    onnx.save(model3, os.path.join(out3, "model.onnx"))


if __name__ == "__main__":
    main()
