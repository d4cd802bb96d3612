"""Writes two small hand-built models for the attribution tests.

Tests/Fixtures/attribution/gate_avgpool/model.onnx: a squeeze-excitation gate whose pooling
is an AveragePool window the size of the map (not GlobalAveragePool), so that the gate is a
[1, C, 1, 1] tensor computed by a window operator. Occlusion's incremental forward pass must treat
the changed gate as changing every output of the Mul (AttributionReferenceTests).
Tests/Fixtures/attribution/softmax_flatten/model.onnx: a classifier whose Softmax is followed by a
Flatten, so the class scores are found by walking back through shape-only nodes.
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


if __name__ == "__main__":
    main()
