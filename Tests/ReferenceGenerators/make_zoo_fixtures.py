"""Writes the model-zoo fixtures of issue 15: architectures and operators beyond the classic CNNs.

Cases (forward: Tests/Fixtures/forward/<case>/, projection: Tests/Fixtures/projection/<case>/, in
the formats of make_forward_fixtures.py and make_projection_fixtures.py):
  convnext          torchvision's own ConvNeXt class (a reduced block setting, random weights),
                    TorchScript exporter (dynamo=False), opset 17: Conv 4x4/s4 stem, depthwise 7x7,
                    Transpose to channels-last, LayerNormalization, MatMul on 4-D tensors (Linear),
                    GELU as Div/Erf/Add/Mul, layer scale (Mul by a constant), residual Add.
  convnext_opset13  the same weights at opset 13, where LayerNorm is exported as
                    ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add.
  activation_zoo    a small CNN written here with GroupNorm (exported as InstanceNormalization
                    between Reshapes), PReLU, InstanceNorm, ELU, SELU, Softplus, Mish, GELU (tanh
                    approximation: Pow x^3), ReLU, a channel shuffle (Reshape/Transpose/Reshape),
                    a squeeze-excitation gate (GlobalAveragePool/Conv/Relu/Conv/Sigmoid/Mul),
                    HardSwish, global pooling and a Linear; opset 17 and (variant model_opset20.onnx)
                    opset 20, where GELU is the Gelu operator.
  groupnorm_opset21 an onnx.helper graph with GroupNormalization (opset 21, per-channel scale).
Forward references come from ONNX Runtime (fp32, graph optimizations disabled). Projection
references are torch float64 autograd on the torch modules themselves, seeded at the layer the ONNX
tensor names, with ReLU and PReLU replaced by autograd functions implementing DESIGN.md §1's rule
table (deconvnet / guided / backprop); every other op keeps its true derivative. The script checks
that the torch float64 forward agrees with ORT on every seeded tensor (relative L2 <= 1e-5), and
that a float32 torch run of each projection agrees with the float64 one within 1e-5 (units whose
masks sit within rounding of a threshold are replaced by the next candidate).
Run from the repository root:  .venv-ref/bin/python Tests/ReferenceGenerators/make_zoo_fixtures.py
"""
import json
import os
import shutil
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from torchvision.models.convnext import CNBlockConfig, ConvNeXt

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
FIX = os.path.join(REPO, "Tests", "Fixtures")
RULES = ["deconvnet", "guided", "backprop"]
VERSIONS = f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, torch {torch.__version__.split('+')[0]}"

torch.set_num_threads(1)
warnings.filterwarnings("ignore")


def rel_l2(a, b):
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def session(model):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def ort_values(model, x, names):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    present = {o.name for o in m.graph.output}
    for n in names:
        if n not in present:
            m.graph.output.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, None))
    inp = [i.name for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}][0]
    return dict(zip(names, session(m).run(names, {inp: x})))


def export(net, x, path, opset):
    torch.onnx.export(net, (torch.from_numpy(x),), path, dynamo=False, opset_version=opset,
                      input_names=["input"], output_names=["output"], do_constant_folding=True)
    return onnx.load(path)


def node_output(model, node_name):
    for n in model.graph.node:
        if n.name == node_name:
            return n.output[0]
    raise KeyError(f"no node {node_name}; nodes: {[n.name for n in model.graph.node]}")


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def save(path, arr):
    np.save(path, np.ascontiguousarray(arr, dtype=np.float32))


# ----------------------------------------------------------------------------------------------
# The rule table for rectifiers (DESIGN.md §1)
# ----------------------------------------------------------------------------------------------

class RULE:
    name = "backprop"


class Rectify(torch.autograd.Function):
    """y = x > 0 ? x : slope·x; backward by the current rule."""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x, slope)
        return torch.where(x > 0, x, slope * x)

    @staticmethod
    def backward(ctx, g):
        x, slope = ctx.saved_tensors
        if RULE.name == "deconvnet":
            return g.clamp(min=0), None
        if RULE.name == "guided":
            return g.clamp(min=0) * (x > 0).to(g.dtype), None
        return torch.where(x > 0, g, slope * g), None


class RuleReLU(nn.Module):
    def forward(self, x):
        if torch.onnx.is_in_onnx_export():
            return F.relu(x)
        return Rectify.apply(x, torch.zeros((), dtype=x.dtype))


class RulePReLU(nn.PReLU):
    def forward(self, x):
        if torch.onnx.is_in_onnx_export():
            return super().forward(x)
        return Rectify.apply(x, self.weight.view(1, -1, 1, 1))


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------

def convnext():
    torch.manual_seed(15)
    net = ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)], stochastic_depth_prob=0.0,
                   layer_scale=0.5, num_classes=10)
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() == 1 and p.shape[0] > 0 and p is not None:
                p.add_(0.1 * torch.randn_like(p))  # non-trivial LayerNorm affine parameters and biases
    return net.eval()


class ActivationZoo(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.gn = nn.GroupNorm(2, 8)
        self.prelu = RulePReLU(8, init=0.2)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.elu = nn.ELU(0.7)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.selu = nn.SELU()
        self.conv4 = nn.Conv2d(8, 8, 3, padding=1)
        self.softplus = nn.Softplus()
        self.mish = nn.Mish()
        self.conv5 = nn.Conv2d(8, 8, 3, padding=1)
        self.gelu = nn.GELU(approximate="tanh")
        self.relu = RuleReLU()
        self.se_reduce = nn.Conv2d(8, 4, 1)
        self.se_relu = RuleReLU()
        self.se_expand = nn.Conv2d(4, 8, 1)
        self.conv6 = nn.Conv2d(8, 8, 1)
        self.hswish = nn.Hardswish()
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.prelu(self.gn(self.conv1(x)))
        x = self.elu(self.inorm(self.conv2(x)))
        x = self.selu(self.conv3(x))
        # channel shuffle (ShuffleNet)
        n, c, h, w = x.shape
        x = x.reshape(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        x = self.mish(self.softplus(self.conv4(x)))
        x = self.relu(self.gelu(self.conv5(x)))
        s = torch.sigmoid(self.se_expand(self.se_relu(self.se_reduce(F.adaptive_avg_pool2d(x, 1)))))
        x = x * s
        x = self.hswish(self.conv6(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def activation_zoo():
    torch.manual_seed(16)
    net = ActivationZoo()
    with torch.no_grad():
        net.gn.weight.add_(0.2 * torch.randn(8))
        net.gn.bias.add_(0.2 * torch.randn(8))
        net.inorm.weight.add_(0.2 * torch.randn(8))
        net.inorm.bias.add_(0.2 * torch.randn(8))
        net.prelu.weight.copy_(0.1 + 0.3 * torch.rand(8))
    return net.eval()


# ----------------------------------------------------------------------------------------------
# Projections
# ----------------------------------------------------------------------------------------------

def capture(net, module_path, x, dtype):
    """Runs `net` in `dtype` and returns (input tensor, the output tensor of `module_path`)."""
    net = net.to(dtype)
    xin = torch.from_numpy(x).to(dtype).requires_grad_(True)
    box = {}
    module = net.get_submodule(module_path) if module_path else None
    handle = module.register_forward_hook(lambda m, i, o: box.__setitem__("y", o)) if module else None
    out = net(xin)
    if handle:
        handle.remove()
    return xin, box.get("y", out)


def project(net, module_path, x, seed, rule, dtype):
    RULE.name = rule
    xin, y = capture(net, module_path, x, dtype)
    g = torch.from_numpy(seed).to(dtype)
    (dx,) = torch.autograd.grad(y, xin, grad_outputs=g)
    return dx.detach().to(torch.float64).numpy(), y.detach().to(torch.float64).numpy()


def unit_seed(shape, c, y=None, x=None):
    s = np.zeros(shape)
    if y is None:
        s[0, c] = 1
    else:
        s[0, c, y, x] = 1
    return s


def projection_case(name, model_ref, net, x, seeds, note):
    """`seeds`: [(module path, onnx node name, onnx tensor, kind, channel, y, x)]; writes the case."""
    out = os.path.join(FIX, "projection", name)
    fresh(out)
    save(os.path.join(out, "input.npy"), x)
    refs = []
    for (path, node, tensor, kind, c, yy, xx) in seeds:
        for rule in RULES:
            _, y64 = capture(net, path, x, torch.float64)
            y64 = y64.detach().numpy()
            if kind == "map":
                seed = np.zeros(y64.shape)
                seed[0, c] = y64[0, c]
            else:
                seed = unit_seed(y64.shape, c, yy, xx)
            p64, y64 = project(net, path, x, seed, rule, torch.float64)
            p32, _ = project(net, path, x, seed, rule, torch.float32)
            err = rel_l2(p32, p64)
            assert err < 1e-5, f"{name} {node} c{c} {rule}: fp32 vs fp64 {err:.2e} (a mask within rounding)"
            assert np.abs(p64).max() > 0, f"{name} {node} c{c} {rule}: zero projection"
            k = len(refs)
            save(os.path.join(out, f"p_{k}.npy"), p64)
            ref = {"layer": node, "tensor": tensor, "seed": kind, "channel": c, "rule": rule, "file": f"p_{k}.npy"}
            if kind == "unit":
                if yy is not None:
                    ref.update({"y": yy, "x": xx, "activation": float(y64[0, c, yy, xx])})
                else:
                    ref["activation"] = float(y64[0, c])
            refs.append(ref)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"model": model_ref, "input": "input.npy", "projections": refs,
                   "note": note + f" Generated with {VERSIONS}."}, f, indent=1)


def forward_case(name, model, x, nodes, variants=(), note=""):
    out = os.path.join(FIX, "forward", name)
    os.makedirs(out, exist_ok=True)
    onnx.save(model, os.path.join(out, "model.onnx"))
    save(os.path.join(out, "input.npy"), x)
    tensors = [node_output(model, n) for n in nodes]
    vals = ort_values(model, x, tensors)
    layers = []
    for k, (n, t) in enumerate(zip(nodes, tensors)):
        save(os.path.join(out, f"out_{k}.npy"), vals[t])
        op = next(m.op_type for m in model.graph.node if m.name == n)
        layers.append({"tensor": t, "node": n, "op": op, "file": f"out_{k}.npy"})
    for v, vm in variants:
        onnx.save(vm, os.path.join(out, v))
        vv = ort_values(vm, x, tensors)
        for t in tensors:
            assert rel_l2(vv[t], vals[t]) < 1e-5, f"{name}/{v}: {t} differs"
    spec = {"model": "model.onnx", "input": "input.npy", "layers": layers,
            "note": note + f" Generated with {VERSIONS}."}
    if variants:
        spec["model_variants"] = [v for v, _ in variants]
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(spec, f, indent=1)
    return vals


def check_torch_matches(net, model, x, pairs):
    """The torch float64 module output at each module path equals ORT's tensor."""
    tensors = [node_output(model, n) for _, n in pairs]
    vals = ort_values(model, x, tensors)
    for (path, n), t in zip(pairs, tensors):
        _, y = capture(net, path, x, torch.float64)
        err = rel_l2(y.detach().numpy(), vals[t])
        assert err < 1e-5, f"{n} vs torch {path}: {err:.2e}"


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------

def case_convnext():
    net = convnext()
    x = np.random.default_rng(151).standard_normal((1, 3, 64, 64)).astype(np.float32)
    tmp = "/tmp/convnext.onnx"
    m17 = export(net.float(), x, tmp, 17)
    m13 = export(net.float(), x, "/tmp/convnext13.onnx", 13)
    ops17 = sorted({n.op_type for n in m17.graph.node})
    ops13 = sorted({n.op_type for n in m13.graph.node})
    print("convnext opset 17 ops:", ops17)
    print("convnext opset 13 ops:", ops13)
    assert "LayerNormalization" in ops17 and "Erf" in ops17
    assert "LayerNormalization" not in ops13 and "Pow" in ops13 and "Sqrt" in ops13
    nodes = ["/features/features.0/features.0.0/Conv", "/features/features.1/features.1.0/block/block.2/LayerNormalization",
             "/features/features.1/features.1.0/block/block.4/Mul_1", "/features/features.1/features.1.0/Add",
             "/features/features.2/features.2.1/Conv", "/features/features.3/features.3.0/Add", "/classifier/classifier.2/Gemm"]
    nodes = [n for n in nodes if any(m.name == n for m in m17.graph.node)] or None
    assert nodes and len(nodes) >= 5, [m.name for m in m17.graph.node]
    forward_case("convnext", m17, x, nodes, note="torchvision ConvNeXt (block setting (16, 32, 1), (32, -, 1)), random weights, opset 17.")
    nodes13 = [n for n in ["/features/features.0/features.0.0/Conv", "/features/features.1/features.1.0/Add",
                           "/features/features.3/features.3.0/Add", "/classifier/classifier.2/Gemm"]
               if any(m.name == n for m in m13.graph.node)]
    forward_case("convnext_opset13", m13, x, nodes13, note="The convnext case's weights at opset 13 (LayerNorm decomposed).")
    pairs = [("features.1.0", "/features/features.1/features.1.0/Add"), ("features.3.0", "/features/features.3/features.3.0/Add"),
             ("", "/classifier/classifier.2/Gemm")]
    check_torch_matches(net, m17, x, pairs)
    seeds = []
    _, y = capture(net, "features.3.0", x, torch.float64)
    for c in (3, 17):
        yy, xx = np.unravel_index(int(np.argmax(y[0, c].detach().numpy())), y.shape[2:])
        seeds.append(("features.3.0", pairs[1][1], node_output(m17, pairs[1][1]), "unit", c, int(yy), int(xx)))
    seeds.append(("features.1.0", pairs[0][1], node_output(m17, pairs[0][1]), "unit", 5, 2, 13))
    seeds.append(("features.1.0", pairs[0][1], node_output(m17, pairs[0][1]), "map", 9, None, None))
    seeds.append(("", pairs[2][1], node_output(m17, pairs[2][1]), "unit", 4, None, None))
    note = "ConvNeXt has no rectifier: all three rules give the plain gradient (torch float64 autograd)."
    projection_case("convnext", "forward/convnext/model.onnx", net, x, seeds, note)
    projection_case("convnext_opset13", "forward/convnext_opset13/model.onnx", net, x,
                    [(p, n, node_output(m13, n), k, c, yy, xx) for (p, n, _, k, c, yy, xx) in seeds],
                    note + " Opset 13 export (LayerNorm decomposed).")


def case_activation_zoo():
    net = activation_zoo()
    x = np.random.default_rng(161).standard_normal((1, 3, 32, 32)).astype(np.float32)
    m17 = export(net.float(), x, "/tmp/zoo17.onnx", 17)
    m20 = export(net.float(), x, "/tmp/zoo20.onnx", 20)
    print("activation_zoo opset 17 ops:", sorted({n.op_type for n in m17.graph.node}))
    print("activation_zoo opset 20 ops:", sorted({n.op_type for n in m20.graph.node}))
    names17 = {n.name: n for n in m17.graph.node}
    wanted = [n.name for n in m17.graph.node if n.op_type in
              ("PRelu", "InstanceNormalization", "Elu", "Selu", "Softplus", "Mul", "Relu", "HardSwish", "Gemm", "Tanh", "Add")]
    # Keep tensors both exports name alike (the variant is checked on them).
    names20 = {n.name for n in m20.graph.node}
    common = [n for n in wanted if n in names20]
    vals = forward_case("activation_zoo", m17, x, common, variants=[("model_opset20.onnx", m20)],
                        note="A CNN written here (GroupNorm, PReLU, InstanceNorm, ELU, SELU, Softplus, Mish, GELU-tanh, channel shuffle, SE).")
    print([n.name for n in m17.graph.node if n.op_type in ("Relu", "HardSwish", "Selu", "Gemm")])
    relu = next(n for n in m17.graph.node if n.op_type == "Relu" and n.name.startswith("/relu/"))
    hs = next(n for n in m17.graph.node if n.op_type == "HardSwish")
    selu = next(n for n in m17.graph.node if n.op_type == "Selu")
    pairs = [("relu", relu.name), ("hswish", hs.name), ("selu", selu.name), ("", next(n.name for n in m17.graph.node if n.op_type == "Gemm"))]
    check_torch_matches(net, m17, x, pairs)
    seeds = []
    for path, node in pairs[:3]:
        _, y = capture(net, path, x, torch.float64)
        y = y.detach().numpy()
        for c in (1, 6):
            order = np.argsort(-y[0, c].ravel())
            for cand in order[:6]:
                yy, xx = np.unravel_index(int(cand), y.shape[2:])
                ok = True
                for rule in RULES:
                    s = unit_seed(y.shape, c, int(yy), int(xx))
                    p64, _ = project(net, path, x, s, rule, torch.float64)
                    p32, _ = project(net, path, x, s, rule, torch.float32)
                    ok = ok and rel_l2(p32, p64) < 1e-6 and np.abs(p64).max() > 0
                if ok:
                    seeds.append((path, node, node_output(m17, node), "unit", c, int(yy), int(xx)))
                    break
    seeds.append((pairs[1][0], pairs[1][1], node_output(m17, pairs[1][1]), "map", 2, None, None))
    seeds.append(("", pairs[3][1], node_output(m17, pairs[3][1]), "unit", 3, None, None))
    projection_case("activation_zoo", "forward/activation_zoo/model.onnx", net, x, seeds,
                    "ReLU and PReLU follow the rule table; GroupNorm, InstanceNorm, ELU, SELU, Softplus, Mish, GELU, SE and HardSwish keep the true derivative.")


def case_groupnorm21():
    rng = np.random.default_rng(211)
    c = 6
    w1 = (0.4 * rng.standard_normal((c, 3, 3, 3))).astype(np.float32)
    b1 = (0.1 * rng.standard_normal(c)).astype(np.float32)
    gamma = (1 + 0.3 * rng.standard_normal(c)).astype(np.float32)
    beta = (0.3 * rng.standard_normal(c)).astype(np.float32)
    w2 = (0.4 * rng.standard_normal((4, c, 3, 3))).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in [(w1, "w1"), (b1, "b1"), (gamma, "gamma"), (beta, "beta"), (w2, "w2")]]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("GroupNormalization", ["c1", "gamma", "beta"], ["gn"], name="gn", num_groups=3, epsilon=1e-5),
        helper.make_node("Relu", ["gn"], ["r"], name="relu"),
        helper.make_node("Conv", ["r", "w2"], ["output"], name="conv2", pads=[1, 1, 1, 1]),
    ]
    g = helper.make_graph(nodes, "gn21", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 12, 12])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4, 12, 12])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    onnx.checker.check_model(m)
    x = rng.standard_normal((1, 3, 12, 12)).astype(np.float32)
    forward_case("groupnorm_opset21", m, x, ["conv1", "gn", "relu", "conv2"], note="GroupNormalization opset 21 (per-channel scale).")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, c, 3, padding=1)
            self.gn = nn.GroupNorm(3, c)
            self.relu = RuleReLU()
            self.conv2 = nn.Conv2d(c, 4, 3, padding=1, bias=False)

        def forward(self, x):
            return self.conv2(self.relu(self.gn(self.conv1(x))))

    net = Net()
    with torch.no_grad():
        for p, a in [(net.conv1.weight, w1), (net.conv1.bias, b1), (net.gn.weight, gamma), (net.gn.bias, beta), (net.conv2.weight, w2)]:
            p.copy_(torch.from_numpy(a))
    check_torch_matches(net.eval(), m, x, [("conv2", "conv2"), ("gn", "gn")])
    seeds = [("conv2", "conv2", "output", "unit", 1, 5, 7), ("conv2", "conv2", "output", "unit", 3, 0, 11),
             ("relu", "relu", "r", "map", 2, None, None)]
    projection_case("groupnorm_opset21", "forward/groupnorm_opset21/model.onnx", net, x, seeds,
                    "GroupNormalization keeps its true derivative; the Relu follows the rule table.")


if __name__ == "__main__":
    case_convnext()
    case_activation_zoo()
    case_groupnorm21()
    print("zoo fixtures written")
