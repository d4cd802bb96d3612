"""Writes the forward-pass fixtures of Tests/Fixtures/forward: models, inputs and ONNX Runtime outputs.

One folder per case, `Tests/Fixtures/forward/<case>/`, holding
  model.onnx     the model (absent for `mobilenetv2`, which uses the bundled
                 Sources/ConvLens/Resources/models/mobilenetv2.onnx)
  input.npy      float32, the model input's exact shape
  expected.json  {"model", "input", "layers": [{"tensor", "node", "op", "file", "channels"?}], "note"}
  out_<k>.npy    float32 tensors computed by ONNX Runtime (CPUExecutionProvider, fp32,
                 graph optimizations disabled so intermediate values are the raw graph's);
                 with "channels": [c0, c1] the file holds only channels c0..c1-1 of axis 1.
Intermediate tensors are read by adding them to the outputs of a copy of the graph that only ORT
sees; the committed model.onnx is the original. The torch models are exported with the
TorchScript exporter (dynamo=False) so node names follow module paths; the others are built with
onnx.helper. Most cases are also checked here against torch or a NumPy reference.
`Tests/Fixtures/forward/bad/` holds malformed models (and an input of the wrong shape) that
ConvLens must reject cleanly; `external_ok/` is a positive case with its weight in weights.bin.
Run from the repository root:  .venv-ref/bin/python Tests/ReferenceGenerators/make_forward_fixtures.py
"""
import json
import math
import os
import shutil
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
FWD = os.path.join(REPO, "Tests", "Fixtures", "forward")
BUNDLED = os.path.join(REPO, "Sources", "ConvLens", "Resources", "models", "mobilenetv2.onnx")
MAX_NPY = 300 * 1024
MAX_CASE = 1536 * 1024
INT64_MAX = np.iinfo(np.int64).max
VERSIONS = f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, torch {torch.__version__.split('+')[0]}"

torch.set_num_threads(1)
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=UserWarning)


# ----------------------------------------------------------------------------------------------
# ORT and fixture writing
# ----------------------------------------------------------------------------------------------

def session(model_or_path):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    src = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def ort_run(model, feeds, names):
    """Runs `model` in ORT and returns the tensors `names`, intermediate ones included."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inferred = onnx.shape_inference.infer_shapes(m)
    infos = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    present = {o.name for o in m.graph.output}
    for n in names:
        if n not in present:
            m.graph.output.append(infos[n] if n in infos else helper.make_tensor_value_info(n, TensorProto.FLOAT, None))
            present.add(n)
    return dict(zip(names, session(m).run(names, feeds)))


def graph_input_name(model):
    inits = {i.name for i in model.graph.initializer}
    real = [i.name for i in model.graph.input if i.name not in inits]
    assert len(real) == 1, real
    return real[0]


def case_dir(case):
    d = os.path.join(FWD, case)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write_case(case, model, x, layers, note, model_ref="model.onnx", extra=None, save_model=True,
               allow_uncovered=("Constant", "Identity")):
    """layers: list of (tensor name, None or (c0, c1)). Returns {tensor: full ORT output}."""
    d = case_dir(case)
    if save_model:
        onnx.save(model, os.path.join(d, "model.onnx"))
    x = np.ascontiguousarray(x, dtype=np.float32)
    np.save(os.path.join(d, "input.npy"), x)
    producer = {o: n for n in model.graph.node for o in n.output}
    names = [t for t, _ in layers]
    for t in names:
        assert t in producer, f"{case}: no node produces {t!r}"
    outs = ort_run(model, {graph_input_name(model): x}, names)
    entries = []
    for k, (t, ch) in enumerate(layers):
        a = outs[t]
        assert a.dtype == np.float32, (case, t, a.dtype)
        assert np.all(np.isfinite(a)), (case, t)
        if ch is not None:
            a = a[:, ch[0]:ch[1]]
            assert a.shape[1] == ch[1] - ch[0], (case, t, a.shape)
        fname = f"out_{k}.npy"
        np.save(os.path.join(d, fname), np.ascontiguousarray(a))
        assert os.path.getsize(os.path.join(d, fname)) <= MAX_NPY, (case, t, a.shape)
        node = producer[t]
        e = {"tensor": t, "node": node.name, "op": node.op_type, "file": fname}
        if ch is not None:
            e["channels"] = [ch[0], ch[1]]
        entries.append(e)
    uncovered = sorted({n.op_type for n in model.graph.node} - {e["op"] for e in entries} - set(allow_uncovered))
    doc = {"model": model_ref, "input": "input.npy", "layers": entries, "note": note}
    if extra:
        doc.update(extra)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    assert size <= MAX_CASE, (case, size)
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    print(f"{case:24s} opset {opset:2d}  {len(entries):2d} layers  {size / 1024:7.1f} KiB"
          + (f"  (ops without a float layer: {', '.join(uncovered)})" if uncovered else ""))
    return outs


def close(a, b, tol=1e-4, what=""):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    err = np.max(np.abs(a - b) / (1.0 + np.abs(b))) if a.size else 0.0
    assert err <= tol, f"{what}: max rel err {err}"


# ----------------------------------------------------------------------------------------------
# onnx.helper model building
# ----------------------------------------------------------------------------------------------

def init(name, arr, dtype=None):
    return numpy_helper.from_array(np.asarray(arr, dtype=dtype) if dtype else np.asarray(arr), name)


def f32(a):
    return np.asarray(a, np.float32)


def i64(a):
    return np.asarray(a, np.int64)


def build(name, nodes, inp, out, inits, opset, check=True):
    """inp/out: (name, shape) or lists of them; the graph is float32 throughout."""
    ins = [inp] if isinstance(inp, tuple) else inp
    outs = [out] if isinstance(out, tuple) else out
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in ins],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outs],
        initializer=inits)
    opsets = [helper.make_opsetid("", opset)]
    m = helper.make_model(graph, opset_imports=opsets, producer_name="ConvLens make_forward_fixtures.py")
    m.ir_version = helper.find_min_ir_version_for(opsets)
    if m.ir_version < 4:  # IR 3 requires every initializer to be listed among the graph inputs
        for t in inits:
            m.graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    if check:
        onnx.checker.check_model(m)
        onnx.shape_inference.infer_shapes(m, strict_mode=True)
    return m


def node(op, inputs, outputs, name, **attrs):
    return helper.make_node(op, inputs, outputs, name=name, **attrs)


# ----------------------------------------------------------------------------------------------
# NumPy references (float64) for the hand-built graphs
# ----------------------------------------------------------------------------------------------

def np_conv(x, w, b=None, strides=(1, 1), pads=(0, 0, 0, 0), dil=(1, 1), group=1):
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (wd + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    out = np.zeros((n, m, oh, ow))
    mg = m // group
    for g in range(group):
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, g * cg:(g + 1) * cg,
                           i * dil[0]:i * dil[0] + strides[0] * (oh - 1) + 1:strides[0],
                           j * dil[1]:j * dil[1] + strides[1] * (ow - 1) + 1:strides[1]]
                out[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, w[g * mg:(g + 1) * mg, :, i, j])
    if b is not None:
        out += np.asarray(b, np.float64)[None, :, None, None]
    return out


def np_conv_transpose(x, w, b, stride, pad, out_pad):
    n, c, h, wd = x.shape
    _, m, k, _ = w.shape
    full = np.zeros((n, m, (h - 1) * stride + k + out_pad, (wd - 1) * stride + k + out_pad))
    for i in range(h):
        for j in range(wd):
            full[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += np.einsum(
                "nc,cmkl->nmkl", x[:, :, i, j].astype(np.float64), w.astype(np.float64))
    oh = (h - 1) * stride - 2 * pad + k + out_pad
    ow = (wd - 1) * stride - 2 * pad + k + out_pad
    return full[:, :, pad:pad + oh, pad:pad + ow] + b[None, :, None, None]


def np_pool(x, kind, k, strides, pads, dil=(1, 1), ceil=False, count_include_pad=False):
    """pads = (top, left, bottom, right)."""
    x = np.asarray(x, np.float64)
    n, c, h, w = x.shape
    ext = [(d * (kk - 1) + 1) for d, kk in zip(dil, k)]
    rnd = math.ceil if ceil else math.floor
    oh = int(rnd((h + pads[0] + pads[2] - ext[0]) / strides[0])) + 1
    ow = int(rnd((w + pads[1] + pads[3] - ext[1]) / strides[1])) + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            ys = [i * strides[0] - pads[0] + a * dil[0] for a in range(k[0])]
            xs = [j * strides[1] - pads[1] + a * dil[1] for a in range(k[1])]
            vals, npad = [], 0
            for yy in ys:
                for xx in xs:
                    if 0 <= yy < h and 0 <= xx < w:
                        vals.append(x[:, :, yy, xx])
                    elif -pads[0] <= yy < h + pads[2] and -pads[1] <= xx < w + pads[3]:
                        npad += 1
            v = np.stack(vals, -1)
            if kind == "max":
                out[:, :, i, j] = v.max(-1)
            else:
                out[:, :, i, j] = v.sum(-1) / (len(vals) + (npad if count_include_pad else 0))
    return out


def np_hardsigmoid(x, alpha=1 / 6, beta=0.5):
    return np.clip(alpha * x + beta, 0, 1)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_linear_resize_matrix(n_in, scale):
    """1-D linear interpolation with half_pixel coordinates, clamped at the borders."""
    n_out = int(n_in * scale)
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        xo = min(max((i + 0.5) / scale - 0.5, 0.0), n_in - 1)
        x0 = int(math.floor(xo))
        x1 = min(x0 + 1, n_in - 1)
        t = xo - x0
        m[i, x0] += 1 - t
        m[i, x1] += t
    return m


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------

def torch_export(module, x, opset, **kw):
    import io
    buf = io.BytesIO()
    torch.onnx.export(module, (torch.from_numpy(x),), buf, dynamo=False, opset_version=opset,
                      input_names=["input"], output_names=["output"], **kw)
    m = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(m)
    return m


def float_layers(model, skip=("Constant", "Identity"), channels=None):
    """(output tensor, slice) of every node not in `skip`, in graph order."""
    channels = channels or {}
    return [(n.output[0], channels.get(n.name)) for n in model.graph.node if n.op_type not in skip]


def case_mobilenetv2():
    model = onnx.load(BUNDLED)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    layers = [
        ("/features/features.0/features.0.0/Conv_output_0", (0, 2)),             # first Conv, 32x112x112
        ("/features/features.3/Add_output_0", (0, 8)),                           # residual Add, 24x56x56
        ("/features/features.4/conv/conv.1/conv.1.0/Conv_output_0", (0, 16)),    # depthwise (group 144, stride 2)
        ("/features/features.4/conv/conv.1/conv.1.2/Clip_output_0", (0, 16)),    # Clip (ReLU6) after it
        ("/features/features.18/features.18.2/Clip_output_0", (0, 64)),          # last Clip, 1280x7x7
        ("/GlobalAveragePool_output_0", None),
        ("/Flatten_output_0", None),
        ("logits", None),
    ]
    write_case("mobilenetv2", model, x, layers, model_ref="bundled:mobilenetv2", save_model=False,
               allow_uncovered=("Constant",),
               note="Bundled MobileNetV2 (opset 17) on a standard-normal input (np.random.default_rng(0), "
                    "not a preprocessed image). Large layers are sliced on axis 1 ('channels'). "
                    f"ORT CPUExecutionProvider fp32, ORT_DISABLE_ALL; {VERSIONS}.")


class AlexNetFeatures(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.features = torchvision.models.alexnet().features[:6]

    def forward(self, x):
        return self.features(x)


def case_alexnet():
    net = AlexNetFeatures().eval()
    x = np.random.default_rng(1).standard_normal((1, 3, 99, 99), dtype=np.float32)
    model = torch_export(net, x, 13)
    # The model alone is 1.24 MB (conv2's weight), so the sliced layers are kept to a few channels.
    ch = {"/features/features.0/Conv": (0, 4), "/features/features.1/Relu": (0, 4),
          "/features/features.2/MaxPool": (0, 8), "/features/features.3/Conv": (0, 16),
          "/features/features.4/Relu": (0, 16)}
    layers = float_layers(model, channels=ch)
    outs = write_case("alexnet", model, x, layers,
                      note="torchvision.models.alexnet().features[:6] with torch.manual_seed(0) random init "
                           "(Conv 11x11/4 pad 2, ReLU, MaxPool 3/2, Conv 5x5 pad 2, ReLU, MaxPool 3/2), "
                           "TorchScript exporter opset 13. Input np.random.default_rng(1) standard normal. "
                           "Every layer is listed; big ones are sliced on axis 1. "
                           f"ORT CPUExecutionProvider fp32, ORT_DISABLE_ALL; {VERSIONS}.")
    with torch.no_grad():
        close(outs["output"], net(torch.from_numpy(x)).numpy(), 1e-4, "alexnet vs torch")


class LRN(torch.autograd.Function):
    """F.local_response_norm exported as one ONNX LRN node (torch's exporter decomposes it)."""

    @staticmethod
    def forward(ctx, x):
        return F.local_response_norm(x, 5, alpha=1e-3, beta=0.75, k=2.0)

    @staticmethod
    def symbolic(g, x):
        return g.op("LRN", x, size_i=5, alpha_f=1e-3, beta_f=0.75, bias_f=2.0)


class LRNModule(nn.Module):
    def forward(self, x):
        return LRN.apply(x)


class VggLrnBn(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.lrn = LRNModule()
        self.pool1 = nn.MaxPool2d(2, ceil_mode=True)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16 * 3 * 3, 10)
        self.softmax = nn.Softmax(dim=1)
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            self.bn.weight.copy_(torch.rand(8, generator=g) + 0.5)
            self.bn.bias.copy_(torch.randn(8, generator=g) * 0.3)
            self.bn.running_mean.copy_(torch.randn(8, generator=g) * 0.3)
            self.bn.running_var.copy_(torch.rand(8, generator=g) * 1.5 + 0.5)
            self.fc.weight.mul_(10.0)  # spread the logits so the softmax is not flat

    def forward(self, x):
        x = self.pool1(self.lrn(self.relu1(self.bn(self.conv1(x)))))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.softmax(self.fc(self.flatten(x)))


def case_vgg_lrn_bn():
    net = VggLrnBn().eval()
    x = np.random.default_rng(2).standard_normal((1, 3, 21, 21), dtype=np.float32)
    model = torch_export(net, x, 13, do_constant_folding=False, training=torch.onnx.TrainingMode.EVAL)
    ops = [n.op_type for n in model.graph.node]
    assert "BatchNormalization" in ops and "LRN" in ops, ops
    outs = write_case("vgg_lrn_bn", model, x, float_layers(model),
                      note="Small torch model (torch.manual_seed(0) init; BatchNorm2d weight/bias/running "
                           "mean/var set to non-trivial values; model.eval()), TorchScript exporter opset 13 "
                           "with do_constant_folding=False and training=EVAL, which keeps the "
                           "BatchNormalization node unfused. LocalResponseNorm(5, 1e-3, 0.75, k=2) is "
                           "exported through a custom autograd.Function symbolic as one ONNX LRN node "
                           "(torch's own exporter decomposes it into ~60 nodes incl. an If). "
                           "MaxPool ceil_mode=1; AveragePool count_include_pad=0 with pads 1. "
                           f"ORT CPUExecutionProvider fp32, ORT_DISABLE_ALL; {VERSIONS}.")
    with torch.no_grad():
        close(outs["output"], net(torch.from_numpy(x)).numpy(), 1e-5, "vgg_lrn_bn vs torch")


def case_pool_variants():
    x = np.random.default_rng(3).standard_normal((1, 2, 11, 13), dtype=np.float32)
    nodes = [
        node("MaxPool", ["input"], ["maxpool_out"], "pool/max_dilated_ceil", kernel_shape=[3, 3],
             strides=[2, 2], pads=[1, 1, 0, 0], dilations=[2, 2], ceil_mode=1),
        node("AveragePool", ["input"], ["avgpool_out"], "pool/avg_include_pad", kernel_shape=[3, 3],
             strides=[2, 2], pads=[0, 1, 1, 0], count_include_pad=1),
        node("Concat", ["maxpool_out", "avgpool_out"], ["concat_out"], "pool/concat", axis=1),
        node("GlobalMaxPool", ["concat_out"], ["output"], "pool/global_max"),
    ]
    model = build("pool_variants", nodes, ("input", [1, 2, 11, 13]), ("output", [1, 4, 1, 1]), [], 13)
    layers = [("maxpool_out", None), ("avgpool_out", None), ("concat_out", None), ("output", None)]
    outs = write_case("pool_variants", model, x, layers,
                      note="onnx.helper, opset 13. MaxPool k3 s2 dilations [2,2] ceil_mode=1 asymmetric pads "
                           "[1,1,0,0] (top,left,bottom,right) -> 5x6; AveragePool k3 s2 count_include_pad=1 "
                           "pads [0,1,1,0] -> 5x6; Concat; GlobalMaxPool. "
                           f"ORT CPUExecutionProvider fp32, ORT_DISABLE_ALL; {VERSIONS}.")
    mx = np_pool(x, "max", (3, 3), (2, 2), (1, 1, 0, 0), dil=(2, 2), ceil=True)
    av = np_pool(x, "avg", (3, 3), (2, 2), (0, 1, 1, 0), count_include_pad=True)
    close(outs["maxpool_out"], mx, 1e-6, "maxpool")
    close(outs["avgpool_out"], av, 1e-6, "avgpool")
    close(outs["output"], np.concatenate([mx, av], 1).max(axis=(2, 3), keepdims=True), 1e-6, "globalmax")


def case_nhwc_transpose():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 12, 12, 3), dtype=np.float32)
    w1 = f32(rng.standard_normal((4, 3, 3, 3)) * 0.4)
    b1 = f32(rng.standard_normal(4) * 0.2)
    w2 = f32(rng.standard_normal((6, 4, 1, 1)) * 0.5)
    wd = f32(rng.standard_normal((216, 5)) * 0.1)
    bd = f32(rng.standard_normal(5) * 0.1)
    p = "StatefulPartitionedCall/model/"
    nodes = [
        node("Transpose", ["input_1"], [p + "conv2d/Conv2D__6:0"], p + "conv2d/Conv2D__6", perm=[0, 3, 1, 2]),
        node("Conv", [p + "conv2d/Conv2D__6:0", "const_fold_opt__21", "const_fold_opt__22"],
             [p + "conv2d/BiasAdd:0"], p + "conv2d/BiasAdd", kernel_shape=[3, 3], strides=[2, 2],
             auto_pad="SAME_UPPER", dilations=[1, 1], group=1),
        node("Relu", [p + "conv2d/BiasAdd:0"], [p + "conv2d/Relu:0"], p + "conv2d/Relu"),
        node("Conv", [p + "conv2d/Relu:0", "const_fold_opt__23"], [p + "conv2d_1/Conv2D:0"], p + "conv2d_1/Conv2D",
             kernel_shape=[1, 1], strides=[1, 1], auto_pad="VALID"),
        node("Transpose", [p + "conv2d_1/Conv2D:0"], [p + "conv2d_1/Conv2D__14:0"], p + "conv2d_1/Conv2D__14",
             perm=[0, 2, 3, 1]),
        node("Reshape", [p + "conv2d_1/Conv2D__14:0", "const_fold_opt__24"], [p + "flatten/Reshape:0"],
             p + "flatten/Reshape"),
        node("MatMul", [p + "flatten/Reshape:0", p + "dense/MatMul/ReadVariableOp:0"], [p + "dense/MatMul:0"],
             p + "dense/MatMul"),
        node("Add", [p + "dense/MatMul:0", p + "dense/BiasAdd/ReadVariableOp:0"], ["dense"], p + "dense/BiasAdd"),
    ]
    inits = [init("const_fold_opt__21", w1), init("const_fold_opt__22", b1), init("const_fold_opt__23", w2),
             init("const_fold_opt__24", i64([1, -1])), init(p + "dense/MatMul/ReadVariableOp:0", wd),
             init(p + "dense/BiasAdd/ReadVariableOp:0", bd)]
    model = build("tf2onnx", nodes, ("input_1", [1, 12, 12, 3]), ("dense", [1, 5]), inits, 13)
    layers = [(n.output[0], None) for n in nodes]
    outs = write_case("nhwc_transpose", model, x, layers,
                      note="onnx.helper graph in the style tf2onnx emits (names with '/' and ':0'), opset 13. "
                           "NHWC input_1 [1,12,12,3] -> Transpose(0,3,1,2) -> Conv 3x3 s2 auto_pad=SAME_UPPER "
                           "(pads 0 before, 1 after) + bias -> Relu -> Conv 1x1 auto_pad=VALID, no bias -> "
                           "Transpose(0,2,3,1) -> Reshape([1,-1] from an int64 initializer) -> MatMul [216,5] "
                           f"-> Add bias. ORT CPUExecutionProvider fp32, ORT_DISABLE_ALL; {VERSIONS}.")
    t = x.transpose(0, 3, 1, 2)
    c1 = np.maximum(np_conv(t, w1, b1, strides=(2, 2), pads=(0, 0, 1, 1)), 0)
    c2 = np_conv(c1, w2)
    ref = c2.transpose(0, 2, 3, 1).reshape(1, -1) @ wd + bd
    close(outs["dense"], ref, 1e-5, "nhwc_transpose")


def se_model():
    rng = np.random.default_rng(5)
    w = f32(rng.standard_normal((8, 8, 3, 3)) * 0.3)
    b = f32(rng.standard_normal(8) * 0.1)
    w1 = f32(rng.standard_normal((2, 8, 1, 1)) * 0.5)
    b1 = f32(rng.standard_normal(2) * 0.1)
    w2 = f32(rng.standard_normal((8, 2, 1, 1)) * 0.1)
    b2 = f32([-5, -2, 0, 2, 5, -4, 1, 4])  # gate inputs on both sides of HardSigmoid's saturation points
    sub_c = f32(rng.standard_normal((1, 8, 1, 1)) * 0.2)
    div_c = f32(0.25)
    nodes = [
        node("Conv", ["input", "conv.weight", "conv.bias"], ["conv_out"], "se/conv", kernel_shape=[3, 3],
             pads=[1, 1, 1, 1]),
        node("Relu", ["conv_out"], ["relu_out"], "se/relu"),
        node("GlobalAveragePool", ["relu_out"], ["squeeze"], "se/squeeze"),
        node("Conv", ["squeeze", "fc1.weight", "fc1.bias"], ["fc1_out"], "se/fc1", kernel_shape=[1, 1]),
        node("Relu", ["fc1_out"], ["fc1_relu"], "se/fc1_relu"),
        node("Conv", ["fc1_relu", "fc2.weight", "fc2.bias"], ["fc2_out"], "se/fc2", kernel_shape=[1, 1]),
        node("HardSigmoid", ["fc2_out"], ["gate"], "se/gate", alpha=1.0 / 6.0, beta=0.5),
        node("Mul", ["conv_out", "gate"], ["excited"], "se/excite"),
        node("HardSwish", ["excited"], ["hswish_out"], "act/hardswish"),
        node("LeakyRelu", ["hswish_out"], ["leaky_out"], "act/leakyrelu", alpha=0.1),
        node("Sigmoid", ["leaky_out"], ["sigmoid_out"], "act/sigmoid"),
        node("Tanh", ["sigmoid_out"], ["tanh_out"], "act/tanh"),
        node("Sub", ["tanh_out", "sub_const"], ["sub_out"], "post/sub"),
        node("Div", ["sub_out", "div_const"], ["output"], "post/div"),
    ]
    inits = [init("conv.weight", w), init("conv.bias", b), init("fc1.weight", w1), init("fc1.bias", b1),
             init("fc2.weight", w2), init("fc2.bias", b2), init("sub_const", sub_c), init("div_const", div_c)]
    model = build("squeeze_excitation", nodes, ("input", [1, 8, 9, 9]), ("output", [1, 8, 9, 9]), inits, 14)
    return model, (w, b, w1, b1, w2, b2, sub_c, div_c)


def case_squeeze_excitation():
    model, (w, b, w1, b1, w2, b2, sub_c, div_c) = se_model()
    x = np.random.default_rng(6).standard_normal((1, 8, 9, 9), dtype=np.float32)
    layers = [(n.output[0], None) for n in model.graph.node]
    outs = write_case("squeeze_excitation", model, x, layers,
                      note="onnx.helper, opset 14. Conv 3x3 pad 1 -> Relu -> GlobalAveragePool -> Conv 1x1 "
                           "(8->2) -> Relu -> Conv 1x1 (2->8) -> HardSigmoid(alpha=1/6, beta=0.5) gate (some "
                           "gates saturate at 0 and 1) -> Mul(Conv output, gate) -> HardSwish -> "
                           "LeakyRelu(0.1) -> Sigmoid -> Tanh -> Sub([1,8,1,1] initializer) -> Div(scalar "
                           f"initializer 0.25). ORT CPUExecutionProvider fp32, ORT_DISABLE_ALL; {VERSIONS}.")
    conv = np_conv(x, w, b, pads=(1, 1, 1, 1))
    s = np.maximum(conv, 0).mean(axis=(2, 3), keepdims=True)
    g = np_hardsigmoid(np_conv(np.maximum(np_conv(s, w1, b1), 0), w2, b2))
    assert (g == 0).any() and (g == 1).any() and ((g > 0) & (g < 1)).any(), g.ravel()
    e = conv * g
    hs = e * np.clip(e / 6 + 0.5, 0, 1)
    lr = np.where(hs >= 0, hs, 0.1 * hs)
    ref = (np.tanh(np_sigmoid(lr)) - sub_c) / div_c
    close(outs["gate"], g, 1e-6, "se gate")
    close(outs["output"], ref, 1e-5, "se output")


# --- changed-signature operator pairs --------------------------------------------------------

ORT_NOTE = f"ORT CPUExecutionProvider fp32, ORT_DISABLE_ALL; {VERSIONS}."


def all_layers(model):
    return [(o, None) for n in model.graph.node for o in n.output if o]


def case_clip():
    x = f32(np.random.default_rng(10).standard_normal((1, 3, 4, 4)))
    assert (x < -0.5).any() and (x > 0.7).any() and ((x > -0.5) & (x < 0.7)).any()
    m7 = build("clip7", [
        node("Clip", ["input"], ["clip_minmax"], "clip/minmax", min=-0.5, max=0.7),
        node("Clip", ["input"], ["clip_min"], "clip/min_only", min=0.0),
        node("Concat", ["clip_minmax", "clip_min"], ["output"], "clip/concat", axis=1),
    ], ("input", [1, 3, 4, 4]), ("output", [1, 6, 4, 4]), [], 7)
    m13 = build("clip13", [
        node("Clip", ["input", "clip.min", "clip.max"], ["clip_minmax"], "clip/minmax"),
        node("Clip", ["input", "relu.min", ""], ["clip_min"], "clip/min_only"),
        node("Concat", ["clip_minmax", "clip_min"], ["output"], "clip/concat", axis=1),
    ], ("input", [1, 3, 4, 4]), ("output", [1, 6, 4, 4]),
        [init("clip.min", f32(-0.5)), init("clip.max", f32(0.7)), init("relu.min", f32(0.0))], 13)
    ref = np.concatenate([np.clip(x, np.float32(-0.5), np.float32(0.7)), np.maximum(x, 0)], 1)
    o7 = write_case("clip_opset7", m7, x, all_layers(m7),
                    note="Clip opset 7: min/max attributes (min=-0.5, max=0.7), and a Clip with only min=0 "
                         "(max defaults to +FLT_MAX); Concat on axis 1. Same input and expected output as "
                         "clip_opset13. " + ORT_NOTE)
    o13 = write_case("clip_opset13", m13, x, all_layers(m13),
                     note="Clip opset 13: min/max as scalar inputs from initializers, and a Clip with only "
                          "min given (max input is the empty name \"\"); Concat on axis 1. Same input and "
                          "expected output as clip_opset7. " + ORT_NOTE)
    close(o7["output"], ref, 0, "clip7")
    close(o13["output"], ref, 0, "clip13")


def case_pad():
    x = f32(np.random.default_rng(11).standard_normal((1, 2, 4, 5)))
    pads = [0, 0, 1, 2, 0, 0, 2, 1]  # begin N,C,H,W then end N,C,H,W
    shp = [1, 6, 7, 8]
    m7 = build("pad7", [
        node("Pad", ["input"], ["pad_constant"], "pad/constant", pads=pads, mode="constant", value=0.5),
        node("Pad", ["input"], ["pad_reflect"], "pad/reflect", pads=pads, mode="reflect"),
        node("Pad", ["input"], ["pad_edge"], "pad/edge", pads=pads, mode="edge"),
        node("Concat", ["pad_constant", "pad_reflect", "pad_edge"], ["output"], "pad/concat", axis=1),
    ], ("input", [1, 2, 4, 5]), ("output", shp), [], 7)
    m13 = build("pad13", [
        node("Pad", ["input", "pads", "pad_value"], ["pad_constant"], "pad/constant", mode="constant"),
        node("Pad", ["input", "pads"], ["pad_reflect"], "pad/reflect", mode="reflect"),
        node("Pad", ["input", "pads"], ["pad_edge"], "pad/edge", mode="edge"),
        node("Concat", ["pad_constant", "pad_reflect", "pad_edge"], ["output"], "pad/concat", axis=1),
    ], ("input", [1, 2, 4, 5]), ("output", shp), [init("pads", i64(pads)), init("pad_value", f32(0.5))], 13)
    npads = ((0, 0), (0, 0), (1, 2), (2, 1))
    ref = np.concatenate([np.pad(x, npads, constant_values=0.5), np.pad(x, npads, mode="reflect"),
                          np.pad(x, npads, mode="edge")], 1)
    o7 = write_case("pad_opset7", m7, x, all_layers(m7),
                    note="Pad opset 7 (attribute form of opsets 2-10): pads attribute [0,0,1,2,0,0,2,1], "
                         "mode constant value=0.5, plus mode reflect and mode edge; Concat on axis 1. Same "
                         "input and expected output as pad_opset13. " + ORT_NOTE)
    o13 = write_case("pad_opset13", m13, x, all_layers(m13),
                     note="Pad opset 13: pads as an int64 input, constant_value as a scalar input (0.5); "
                          "reflect and edge Pads take only data and pads. Concat on axis 1. Same input and "
                          "expected output as pad_opset7. " + ORT_NOTE)
    close(o7["output"], ref, 0, "pad7")
    close(o13["output"], ref, 0, "pad13")


def case_split():
    x = f32(np.random.default_rng(12).standard_normal((1, 4, 3, 3)))
    tail = [node("Relu", ["split_1"], ["relu_1"], "split/relu_1"),
            node("Identity", ["split_0"], ["identity_0"], "split/identity_0"),
            node("Concat", ["relu_1", "identity_0"], ["output"], "split/concat", axis=1)]
    io = (("input", [1, 4, 3, 3]), ("output", [1, 4, 3, 3]))
    m11 = build("split11", [node("Split", ["input"], ["split_0", "split_1"], "split/split", axis=1,
                                 split=[1, 3])] + tail, *io, [], 11)
    m13 = build("split13", [node("Split", ["input", "split.sizes"], ["split_0", "split_1"], "split/split",
                                 axis=1)] + tail, *io, [init("split.sizes", i64([1, 3]))], 13)
    m18 = build("split18", [node("Split", ["input"], ["split_0", "split_1"], "split/split", axis=1,
                                 num_outputs=2)] + tail, *io, [], 18)
    common = " Split outputs: split_0 -> Identity, split_1 -> Relu, then Concat([relu_1, identity_0], axis 1). "
    o11 = write_case("split_opset11", m11, x, all_layers(m11),
                     note="Split opset 11 with the split attribute [1,3] on axis 1 (uneven)." + common + ORT_NOTE)
    o13 = write_case("split_opset13", m13, x, all_layers(m13),
                     note="Split opset 13 with split sizes [1,3] as an int64 input on axis 1; same input and "
                          "expected outputs as split_opset11." + common + ORT_NOTE)
    o18 = write_case("split_opset18", m18, x, all_layers(m18),
                     note="Split opset 18 with no split input and num_outputs=2 (even split [2,2]) on axis 1; "
                          "same input as split_opset11/13." + common + ORT_NOTE)
    close(o11["output"], np.concatenate([np.maximum(x[:, 1:], 0), x[:, :1]], 1), 0, "split11")
    close(o13["output"], o11["output"], 0, "split13")
    close(o18["output"], np.concatenate([np.maximum(x[:, 2:], 0), x[:, :2]], 1), 0, "split18")


def case_softmax():
    x = f32(np.random.default_rng(13).standard_normal((1, 3, 4, 5)) * 2)
    io = (("input", [1, 3, 4, 5]), ("output", [1, 3, 4, 5]))
    m11 = build("softmax11", [node("Softmax", ["input"], ["output"], "softmax", axis=1)], *io, [], 11)
    m13 = build("softmax13", [node("Softmax", ["input"], ["output"], "softmax", axis=1)], *io, [], 13)
    o11 = write_case("softmax_opset11", m11, x, all_layers(m11),
                     note="Softmax opset 11, axis=1: legacy semantics, the input is flattened to 2-D "
                          "[1, 3*4*5] at the axis and normalized over all 60 values (the whole output sums "
                          "to 1). Same input as softmax_opset13, different output. " + ORT_NOTE)
    o13 = write_case("softmax_opset13", m13, x, all_layers(m13),
                     note="Softmax opset 13, axis=1: normalized along axis 1 only (each of the 4x5 "
                          "positions sums to 1 over the 3 channels). Same input as softmax_opset11, "
                          "different output. " + ORT_NOTE)
    e = np.exp(x.astype(np.float64) - x.max())
    close(o11["output"], e / e.sum(), 1e-5, "softmax11")
    e = np.exp(x.astype(np.float64) - x.max(axis=1, keepdims=True))
    close(o13["output"], e / e.sum(axis=1, keepdims=True), 1e-5, "softmax13")
    assert not np.allclose(o11["output"], o13["output"])


def case_squeeze():
    x = f32(np.random.default_rng(14).standard_normal((1, 3, 1, 5)))
    io = (("input", [1, 3, 1, 5]), ("output", [1, 3, 5, 1]))
    m11 = build("squeeze11", [
        node("Squeeze", ["input"], ["squeezed"], "squeeze", axes=[0, -2]),
        node("Relu", ["squeezed"], ["relu_out"], "relu"),
        node("Unsqueeze", ["relu_out"], ["output"], "unsqueeze", axes=[0, -1]),
    ], *io, [], 11)
    m13 = build("squeeze13", [
        node("Squeeze", ["input", "squeeze.axes"], ["squeezed"], "squeeze"),
        node("Relu", ["squeezed"], ["relu_out"], "relu"),
        node("Unsqueeze", ["relu_out", "unsqueeze.axes"], ["output"], "unsqueeze"),
    ], *io, [init("squeeze.axes", i64([0, -2])), init("unsqueeze.axes", i64([0, -1]))], 13)
    ref = np.maximum(x, 0).reshape(1, 3, 5, 1)
    for case, m, how in (("squeeze_opset11", m11, "axes attributes"), ("squeeze_opset13", m13, "axes as int64 inputs")):
        o = write_case(case, m, x, all_layers(m),
                       note=f"Squeeze/Unsqueeze with {how} (negative axes included): [1,3,1,5] -> "
                            "Squeeze axes [0,-2] -> [3,5] -> Relu -> Unsqueeze axes [0,-1] -> [1,3,5,1]. "
                            "squeeze_opset11 and squeeze_opset13 share input and expected output. " + ORT_NOTE)
        close(o["output"], ref, 0, case)


def case_reducemean():
    x = f32(np.random.default_rng(15).standard_normal((1, 4, 5, 6)))
    io = (("input", [1, 4, 5, 6]), ("output", [1, 1, 5]))
    m13 = build("reducemean13", [
        node("ReduceMean", ["input"], ["mean_w"], "mean/last_axis", axes=[-1], keepdims=0),
        node("ReduceMean", ["mean_w"], ["output"], "mean/channels", axes=[1], keepdims=1),
    ], *io, [], 13)
    m18 = build("reducemean18", [
        node("ReduceMean", ["input", "axes.last"], ["mean_w"], "mean/last_axis", keepdims=0),
        node("ReduceMean", ["mean_w", "axes.channels"], ["output"], "mean/channels", keepdims=1),
    ], *io, [init("axes.last", i64([-1])), init("axes.channels", i64([1]))], 18)
    ref = x.astype(np.float64).mean(-1).mean(1, keepdims=True)
    for case, m, how in (("reducemean_opset13", m13, "axes attributes"), ("reducemean_opset18", m18, "axes as int64 inputs")):
        o = write_case(case, m, x, all_layers(m),
                       note=f"ReduceMean with {how}: [1,4,5,6] -> axes [-1] keepdims=0 -> [1,4,5] -> axes [1] "
                            "keepdims=1 -> [1,1,5]. reducemean_opset13 and reducemean_opset18 share input and "
                            "expected output. " + ORT_NOTE)
        close(o["output"], ref, 1e-6, case)


def case_reshape_shape_chain():
    rng = np.random.default_rng(16)
    x = f32(rng.standard_normal((1, 4, 6, 6)))
    wc = f32(rng.standard_normal((4, 4, 1, 1)) * 0.5)
    bc = f32(rng.standard_normal(4) * 0.1)
    wg = f32(rng.standard_normal((3, 144)) * 0.1)
    bg = f32(rng.standard_normal(3) * 0.1)
    nodes = [
        node("Conv", ["input", "conv.weight", "conv.bias"], ["/conv/Conv_output_0"], "/conv/Conv", kernel_shape=[1, 1]),
        node("Shape", ["/conv/Conv_output_0"], ["/Shape_output_0"], "/Shape"),
        node("Gather", ["/Shape_output_0", "/Constant_output_0"], ["/Gather_output_0"], "/Gather", axis=0),
        node("Unsqueeze", ["/Gather_output_0", "/Constant_1_output_0"], ["/Unsqueeze_output_0"], "/Unsqueeze"),
        node("Concat", ["/Unsqueeze_output_0", "/Constant_2_output_0"], ["/Concat_output_0"], "/Concat", axis=0),
        node("Reshape", ["/conv/Conv_output_0", "/Concat_output_0"], ["/Reshape_output_0"], "/Reshape"),
        node("Gemm", ["/Reshape_output_0", "fc.weight", "fc.bias"], ["logits"], "/fc/Gemm", alpha=1.0, beta=1.0,
             transB=1),
        node("Slice", ["/conv/Conv_output_0", "slice.starts", "slice.ends", "slice.axes", "slice.steps"],
             ["/Slice_output_0"], "/Slice"),
        node("Resize", ["/Slice_output_0", "", "resize.scales"], ["/Resize_output_0"], "/Resize", mode="nearest",
             coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        node("Resize", ["/Slice_output_0", "", "resize.scales"], ["/Resize_1_output_0"], "/Resize_1", mode="linear",
             coordinate_transformation_mode="half_pixel"),
        node("Concat", ["/Resize_output_0", "/Resize_1_output_0"], ["resized"], "/Concat_1", axis=1),
    ]
    inits = [init("conv.weight", wc), init("conv.bias", bc), init("fc.weight", wg), init("fc.bias", bg),
             init("/Constant_output_0", i64(0)), init("/Constant_1_output_0", i64([0])),
             init("/Constant_2_output_0", i64([-1])),
             init("slice.starts", i64([1, 0])), init("slice.ends", i64([INT64_MAX, 6])),
             init("slice.axes", i64([1, 3])), init("slice.steps", i64([1, 2])),
             init("resize.scales", f32([1, 1, 2, 2]))]
    model = build("reshape_shape_chain", nodes, ("input", [1, 4, 6, 6]),
                  [("logits", [1, 3]), ("resized", [1, 6, 12, 6])], inits, 13)
    layers = [(t, None) for t in ["/conv/Conv_output_0", "/Reshape_output_0", "logits", "/Slice_output_0",
                                  "/Resize_output_0", "/Resize_1_output_0", "resized"]]
    outs = write_case("reshape_shape_chain", model, x, layers,
                      allow_uncovered=("Shape", "Gather", "Unsqueeze"),
                      note="onnx.helper, opset 13, two graph outputs (logits, resized). Conv 1x1 -> the exporter's "
                           "flatten pattern Shape -> Gather(scalar index 0) -> Unsqueeze(axes input [0]) -> "
                           "Concat with int64 [-1] -> Reshape -> Gemm(transB=1, W [3,144], bias). Branch: Slice "
                           "of the Conv output (starts [1,0], ends [INT64_MAX,6], axes [1,3], steps [1,2]) -> "
                           "Resize nearest (asymmetric, floor) and Resize linear (half_pixel), both with roi \"\" "
                           "and scales [1,1,2,2], -> Concat on axis 1. Shape/Gather/Unsqueeze/first Concat give "
                           "int64 tensors and are not listed. " + ORT_NOTE)
    conv = np_conv(x, wc, bc)
    close(outs["logits"], conv.reshape(1, -1) @ wg.T.astype(np.float64) + bg, 1e-5, "gemm")
    sl = conv[:, 1:, :, 0:6:2]
    close(outs["/Slice_output_0"], sl, 1e-5, "slice")
    close(outs["/Resize_output_0"], sl.repeat(2, 2).repeat(2, 3), 1e-5, "resize nearest")
    lin = np.einsum("ih,nchw,jw->ncij", np_linear_resize_matrix(6, 2), sl, np_linear_resize_matrix(3, 2))
    close(outs["/Resize_1_output_0"], lin, 1e-5, "resize linear")


def case_convtranspose():
    rng = np.random.default_rng(17)
    x = f32(rng.standard_normal((1, 3, 5, 5)))
    wt = f32(rng.standard_normal((3, 4, 3, 3)) * 0.4)
    bt = f32(rng.standard_normal(4) * 0.1)
    wg = f32(rng.standard_normal((6, 2, 3, 3)) * 0.3)
    bg = f32(rng.standard_normal(6) * 0.1)
    nodes = [
        node("ConvTranspose", ["input", "deconv.weight", "deconv.bias"], ["deconv_out"], "deconv",
             kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1], group=1),
        node("Conv", ["deconv_out", "gconv.weight", "gconv.bias"], ["gconv_out"], "gconv", kernel_shape=[3, 3],
             group=2, dilations=[2, 2], pads=[2, 2, 2, 2]),
        node("Cast", ["gconv_out"], ["cast_out"], "cast", to=TensorProto.FLOAT),
        node("Dropout", ["cast_out"], ["dropout_out"], "dropout"),
        node("Identity", ["dropout_out"], ["output"], "identity"),
    ]
    inits = [init("deconv.weight", wt), init("deconv.bias", bt), init("gconv.weight", wg), init("gconv.bias", bg)]
    model = build("convtranspose", nodes, ("input", [1, 3, 5, 5]), ("output", [1, 6, 10, 10]), inits, 13)
    outs = write_case("convtranspose_opset13", model, x, all_layers(model), allow_uncovered=(),
                      note="onnx.helper, opset 13. ConvTranspose 3->4, 3x3, strides 2, pads 1, output_padding 1, "
                           "bias: [1,3,5,5] -> [1,4,10,10]; Conv group=2 4->6, 3x3, dilations 2, pads 2 -> "
                           "[1,6,10,10]; Cast(to FLOAT), Dropout (inference: identity, no ratio input), "
                           "Identity. " + ORT_NOTE)
    dt = np_conv_transpose(x, wt, bt, 2, 1, 1)
    close(outs["deconv_out"], dt, 1e-5, "convtranspose")
    close(outs["output"], np_conv(dt, wg, bg, pads=(2, 2, 2, 2), dil=(2, 2), group=2), 1e-5, "group conv")


def case_gemm_opset7():
    rng = np.random.default_rng(18)
    a = f32(rng.standard_normal((6, 2)))
    b = f32(rng.standard_normal((6, 4)) * 0.5)
    c = f32(rng.standard_normal(4) * 0.5)
    scale = f32(rng.uniform(0.5, 1.5, 4))
    bias = f32(rng.standard_normal(4) * 0.2)
    mean = f32(rng.standard_normal(4) * 0.3)
    var = f32(rng.uniform(0.5, 2.0, 4))
    nodes = [
        node("Gemm", ["A", "B", "C"], ["gemm_out"], "gemm", alpha=0.5, beta=2.0, transA=1),
        node("BatchNormalization", ["gemm_out", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["output"], "bn",
             epsilon=1e-5),
    ]
    inits = [init("B", b), init("C", c), init("bn.scale", scale), init("bn.bias", bias), init("bn.mean", mean),
             init("bn.var", var)]
    model = build("gemm7", nodes, ("A", [6, 2]), ("output", [2, 4]), inits, 7)
    outs = write_case("gemm_opset7", model, a, all_layers(model),
                      note="onnx.helper, opset 7, IR version 3 (so every initializer is also listed in "
                           "graph.input, as IR 3 requires; the only real input is A [6,2]). Gemm alpha=0.5, "
                           "beta=2, transA=1, B [6,4], 1-D bias C [4] broadcast -> [2,4]; BatchNormalization "
                           "in its opset-7 form (epsilon 1e-5, spatial default) on the 2-D [N=2, C=4] tensor. "
                           + ORT_NOTE)
    g = 0.5 * a.T.astype(np.float64) @ b + 2.0 * c
    close(outs["gemm_out"], g, 1e-6, "gemm7")
    close(outs["output"], (g - mean) / np.sqrt(var.astype(np.float64) + 1e-5) * scale + bias, 1e-5, "bn7")


def case_float16_weights():
    rng = np.random.default_rng(19)
    x = f32(rng.standard_normal((1, 3, 8, 8)))
    w1 = f32(rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float16).astype(np.float32)  # fp16-exact
    b1 = f32(rng.standard_normal(4) * 0.1)
    w2 = f32(rng.standard_normal((2, 4, 3, 3)) * 0.3)
    b2 = f32(rng.standard_normal(2) * 0.1).astype(np.float16).astype(np.float32)  # fp16-exact

    def graph(typed):
        if typed:
            inits = [numpy_helper.from_array(w1.astype(np.float16), "conv1.weight"),             # FLOAT16 raw_data
                     helper.make_tensor("conv1.bias", TensorProto.FLOAT, [4], b1.tolist()),      # float_data
                     helper.make_tensor("conv2.weight", TensorProto.DOUBLE, list(w2.shape),
                                        w2.astype(np.float64).ravel().tolist()),                 # double_data
                     helper.make_tensor("conv2.bias", TensorProto.FLOAT16, [2], b2.astype(np.float16))]  # int32_data
        else:
            inits = [init("conv1.weight", w1), init("conv1.bias", b1), init("conv2.weight", w2), init("conv2.bias", b2)]
        nodes = [node("Conv", ["input", "conv1.weight", "conv1.bias"], ["conv1_out"], "conv1", kernel_shape=[3, 3],
                      pads=[1, 1, 1, 1]),
                 node("Relu", ["conv1_out"], ["relu_out"], "relu"),
                 node("Conv", ["relu_out", "conv2.weight", "conv2.bias"], ["output"], "conv2", kernel_shape=[3, 3])]
        return build("float16_weights", nodes, ("input", [1, 3, 8, 8]), ("output", [1, 2, 6, 6]), inits, 13,
                     check=not typed)

    model, typed = graph(False), graph(True)
    onnx.checker.check_model(typed)  # structurally valid; its Conv type constraints do not hold
    t = {i.name: i for i in typed.graph.initializer}
    assert t["conv1.weight"].data_type == TensorProto.FLOAT16 and t["conv1.weight"].raw_data
    assert t["conv1.bias"].float_data and not t["conv1.bias"].raw_data
    assert t["conv2.weight"].double_data and not t["conv2.weight"].raw_data
    assert t["conv2.bias"].data_type == TensorProto.FLOAT16 and t["conv2.bias"].int32_data
    for i in model.graph.initializer:
        assert np.array_equal(numpy_helper.to_array(t[i.name]).astype(np.float32), numpy_helper.to_array(i)), i.name
    try:
        session(typed)
        refused = None
    except Exception as e:  # ORT binds Conv's T to one type for X, W and B
        refused = str(e).splitlines()[0][:200]
    assert refused, "ORT unexpectedly ran the mixed-type model; commit it as model.onnx instead"
    outs = write_case("float16_weights", model, x, all_layers(model), extra={"model_variants": ["model_typed.onnx"]},
                      note="model.onnx is float32 for ORT (which refuses Conv with a FLOAT16/DOUBLE weight and a "
                           "FLOAT input). model_typed.onnx is the same graph whose initializers hold the same "
                           "values in other encodings: conv1.weight FLOAT16 raw_data, conv1.bias FLOAT "
                           "float_data (typed field, not raw), conv2.weight DOUBLE double_data, conv2.bias "
                           "FLOAT16 in int32_data (the typed field for FLOAT16). Weights were rounded to "
                           "float16 first where stored as FLOAT16, so converting model_typed.onnx to fp32 at "
                           "import must give exactly model.onnx's weights and the same outputs. Opset 13. "
                           + ORT_NOTE)
    onnx.save(typed, os.path.join(FWD, "float16_weights", "model_typed.onnx"))
    ref = np_conv(np.maximum(np_conv(x, w1, b1, pads=(1, 1, 1, 1)), 0), w2, b2)
    close(outs["output"], ref, 1e-5, "float16_weights")
    print(f"{'':24s} ORT refused model_typed.onnx: {refused}")


def small_conv_model(name, w, b, check=True):
    nodes = [node("Conv", ["input", "conv.weight", "conv.bias"], ["output"], "conv", kernel_shape=[3, 3],
                  pads=[1, 1, 1, 1])]
    return build(name, nodes, ("input", [1, 3, 6, 6]), ("output", [1, 4, 6, 6]), [w, b], 13, check=check)


def case_external_ok():
    rng = np.random.default_rng(20)
    x = f32(rng.standard_normal((1, 3, 6, 6)))
    w = f32(rng.standard_normal((4, 3, 3, 3)) * 0.3)
    b = f32(rng.standard_normal(4) * 0.1)
    model = small_conv_model("external_ok", init("conv.weight", w), init("conv.bias", b))
    outs = write_case("external_ok", model, x, [("output", None)],
                      note="Valid Conv model (3->4, 3x3, pad 1, opset 13) whose conv.weight (432 bytes) is "
                           "external data in weights.bin next to model.onnx (location \"weights.bin\", offset 0, "
                           "length 432); conv.bias stays inline. Must load with the model file's folder as the "
                           "base. " + ORT_NOTE)
    d = os.path.join(FWD, "external_ok")
    os.remove(os.path.join(d, "model.onnx"))
    onnx.save_model(model, os.path.join(d, "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=100)
    os.chmod(os.path.join(d, "weights.bin"), 0o644)  # onnx creates it 0600
    saved = onnx.load(os.path.join(d, "model.onnx"), load_external_data=False)
    t = {i.name: i for i in saved.graph.initializer}
    assert t["conv.weight"].data_location == TensorProto.EXTERNAL and not t["conv.weight"].raw_data
    assert t["conv.bias"].data_location != TensorProto.EXTERNAL
    assert os.path.getsize(os.path.join(d, "weights.bin")) == w.nbytes
    from_file = session(os.path.join(d, "model.onnx")).run(["output"], {"input": x})[0]
    close(from_file, outs["output"], 0, "external_ok from file")
    close(outs["output"], np_conv(x, w, b, pads=(1, 1, 1, 1)), 1e-5, "external_ok")


def case_bad():
    d = case_dir("bad")
    se = se_model()[0].SerializeToString()
    with open(os.path.join(d, "truncated.onnx"), "wb") as f:
        f.write(se[:len(se) // 2])
    with open(os.path.join(d, "random.onnx"), "wb") as f:
        f.write(np.random.default_rng(30).bytes(4096))

    einsum = build("unsupported_op", [node("Einsum", ["input"], ["output"], "weird_node", equation="bchw->bhwc")],
                   ("input", [1, 3, 4, 4]), ("output", [1, 4, 4, 3]), [], 13)
    onnx.save(einsum, os.path.join(d, "unsupported_op.onnx"))

    rng = np.random.default_rng(31)
    b = init("conv.bias", f32(rng.standard_normal(4)))
    w = TensorProto()  # dims say 4*3*3*3 = 108 floats (432 bytes); raw_data holds 50 floats
    w.name, w.data_type = "conv.weight", TensorProto.FLOAT
    w.dims.extend([4, 3, 3, 3])
    w.raw_data = f32(rng.standard_normal(50)).tobytes()
    onnx.save(small_conv_model("initializer_size_mismatch", w, b, check=False),
              os.path.join(d, "initializer_size_mismatch.onnx"))

    huge = TensorProto()
    huge.name, huge.data_type = "huge", TensorProto.FLOAT
    huge.dims.extend([2 ** 40, 2 ** 40])
    huge.raw_data = f32([1, 2, 3, 4]).tobytes()
    m = build("overflow_shape", [node("Add", ["input", "huge"], ["output"], "add_huge")],
              ("input", [1, 3, 6, 6]), ("output", None), [huge], 13, check=False)
    onnx.save(m, os.path.join(d, "overflow_shape.onnx"))

    esc = TensorProto()
    esc.name, esc.data_type = "conv.weight", TensorProto.FLOAT
    esc.dims.extend([4, 3, 3, 3])
    esc.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../../outside.bin"), ("offset", "0"), ("length", "432")):
        e = esc.external_data.add()
        e.key, e.value = k, v
    onnx.save(small_conv_model("external_escape", esc, b, check=False), os.path.join(d, "external_escape.onnx"))

    np.save(os.path.join(d, "wrong_input.npy"), f32(rng.standard_normal((1, 3, 7, 7))))

    # Each must be refused by a careful loader; check ORT agrees where it can tell (not a spec).
    for fname in sorted(os.listdir(d)):
        if fname.endswith(".onnx"):
            try:
                session(os.path.join(d, fname))
                verdict = "ORT loads it"
            except Exception as e:
                verdict = "ORT refuses: " + str(e).replace("\n", " ")[:110]
            print(f"  bad/{fname:32s} {os.path.getsize(os.path.join(d, fname)):6d} B  {verdict}")


def main():
    os.makedirs(FWD, exist_ok=True)
    case_mobilenetv2()
    case_alexnet()
    case_vgg_lrn_bn()
    case_pool_variants()
    case_nhwc_transpose()
    case_squeeze_excitation()
    case_clip()
    case_pad()
    case_split()
    case_softmax()
    case_squeeze()
    case_reducemean()
    case_reshape_shape_chain()
    case_convtranspose()
    case_gemm_opset7()
    case_float16_weights()
    case_external_ok()
    case_bad()
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(FWD) for f in fs)
    print(f"total {total / 1024 / 1024:.2f} MiB in {FWD}")
    assert total <= 6 * 1024 * 1024, total


if __name__ == "__main__":
    main()
