"""Writes the back-projection fixtures of Tests/Fixtures/projection: float64 reference projections.

One folder per case, `Tests/Fixtures/projection/<case>/`, holding
  expected.json  {"model", "input", "projections": [{"layer", "tensor", "seed", "channel", "y"?, "x"?,
                  "position"?, "activation", "rule", "file"}], "note", "lrn"?}
                 "model" is relative to Tests/Fixtures ("forward/alexnet/model.onnx") or
                 "bundled:mobilenetv2"; "lrn": "passthrough" marks projections made with
                 `--lrn passthrough` (LRN's backward is the identity).
  input.npy      float32, the model input's exact shape
  p_<k>.npy      float32 [1, C, H, W]: the projection at the model input (DESIGN.md §1)
  model.onnx     only for `handmade` (the other cases reuse models of Tests/Fixtures/forward or the
                 bundled model)

How the references are computed. A small ONNX interpreter (`Interp`, below) evaluates the graph with
torch.nn.functional ops in float64 on the fp32 input cast to float64; torch autograd gives the
backward pass, with Relu, Clip (min 0) and LeakyRelu replaced by `Rectify`, an autograd.Function
that implements DESIGN.md §1's rule table (deconvnet / guided / backprop), and MaxPool written as a
gather at the forward switches (first maximum of each window in row-major order; overlapping
windows add). Every other op keeps its true derivative. A projection is
torch.autograd.grad(outputs=<layer tensor>, inputs=<input>, grad_outputs=<seed>).

Checks (the script raises on any failure):
  * the interpreter's float64 forward agrees with ONNX Runtime (fp32, ORT_DISABLE_ALL) at relative
    L2 <= 1e-5 on the model output and on every seeded layer;
  * Captum 0.9 (NeuronDeconvolution, NeuronGuidedBackprop, NeuronGradient) on float64 torch modules
    gives the same unit-seed projections within 1e-6 relative L2: AlexNet features[:6], the
    vgg_lrn_bn model (LRN as nn.LocalResponseNorm; a pass-through LRN module for the passthrough
    case), the handmade model, and torchvision's MobileNetV2 loaded with the bundled model's
    BN-folded weights, its ReLU6 replaced by an nn.ReLU subclass computing clamp(0, 6) so that
    Captum's deconvnet/guided hooks apply (they then implement exactly the Clip rule);
  * squeeze_excitation's backprop projections equal plain torch autograd of an independent torch
    forward (F.relu, F.hardtanh, ...) within 1e-9;
  * every projection is robust to fp32 rounding (DESIGN.md §6), all within relative L2 F32_LIMIT /
    MASK_EFFECT = 1e-5:
      - a float32 run of the same interpreter (float32 weights, its own masks and switches, float32
        accumulation) agrees with the float64 reference;
      - taking every mask and switch from ONNX Runtime's fp32 forward instead changes it by less;
      - near-threshold scan: for every Relu/Clip/LeakyRelu (guided, backprop) and MaxPool (all
        rules) element that receives nonzero backward signal, the float64 forward input is counted
        "near" when within TOL x max|tensor| of a threshold (0, or the Clip max) and a max-pool
        window when 0 < top1 - top2 < TOL x max|tensor|; HardSigmoid/HardSwish kinks likewise (never
        allowed). Unit seeds of the small models must have no near element (the next candidate
        unit, or the next candidate input, is tried otherwise);
      - flip test: every element "at risk" (within RISK x the tensor's max |ORT fp32 - float64| of
        its threshold, or such a max-pool near-tie) is flipped at once (mask toggled, switch moved
        to the runner-up); the projection must change by less than the limit.
    MobileNetV2 seeds deep in the network fail these for guided and backprop (hundreds of ReLU6
    inputs within fp32 rounding of 0; even ORT's fp32 masks change such projections by 1e-4 to
    1e-3), so those seeds keep only the rules that pass (deconvnet has no mask there); each case's
    expected.json "note" lists what was kept, skipped and measured.
Inputs and weights come from fixed seeds or files; reruns give identical files.
Run from the repository root:  .venv-ref/bin/python Tests/ReferenceGenerators/make_projection_fixtures.py
"""
import json
import math
import os
import shutil
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from onnx import numpy_helper

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_forward_fixtures as fwd  # noqa: E402  (models, ORT helpers; importing runs nothing)

import captum  # noqa: E402
from captum.attr import NeuronDeconvolution, NeuronGradient, NeuronGuidedBackprop  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=FutureWarning)

REPO = fwd.REPO
FIX = os.path.join(REPO, "Tests", "Fixtures")
OUT = os.path.join(FIX, "projection")
CHELSEA = os.path.join(REPO, "Sources", "ConvLens", "Resources", "images", "chelsea.png")
RULES = ("deconvnet", "guided", "backprop")
TOL = 1e-5            # distance to a mask threshold / max-pool tie gap, relative to max|tensor|
MASK_EFFECT = 1e-5    # max relative L2 change of a projection by fp32 masks or by flipping the at-risk masks
F32_LIMIT = 1e-5      # max relative L2 difference of a float32 run of the interpreter (its own masks)
RISK = 10             # "at risk": within RISK x max|ORT fp32 - float64| of a threshold (or a tie), per tensor
CAPTUM_TOL = 1e-6     # max relative L2 difference to Captum
FWD_TOL = 1e-5        # interpreter float64 forward vs ORT fp32, relative L2
MAX_NPY = 600 * 1024
MAX_TOTAL = 16 * 1024 * 1024
VERSIONS = (f"torch {torch.__version__.split('+')[0]}, torchvision {torchvision.__version__.split('+')[0]}, "
            f"captum {captum.__version__}, onnx {onnx.__version__}, onnxruntime {ort.__version__}, "
            f"numpy {np.__version__}")
CAPTUM_LOG = []


def rel_l2(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    nb = np.linalg.norm(b)
    d = np.linalg.norm(a - b)
    if nb == 0:
        return 0.0 if d == 0 else math.inf
    return float(d / nb)


# ----------------------------------------------------------------------------------------------
# Recording mask statistics during the backward pass
# ----------------------------------------------------------------------------------------------

class SeedError(AssertionError):
    """No candidate seed passed the threshold checks."""


class Recorder:
    """Per backward pass: for each masking node, how many elements with nonzero backward signal are
    near a threshold (float64 forward), flip between the float64 and the ORT fp32 forward, or are
    exact max-pool ties."""

    def __init__(self):
        self.items = []

    FIELDS = {"signal": 2, "near": 3, "flips": 4, "ties": 5, "risk": 6}

    def add(self, node, kind, signal, near, flips, ties=0, risk=0):
        self.items.append((node, kind, int(signal), int(near), int(flips), int(ties), int(risk)))

    def total(self, field):
        k = self.FIELDS[field]
        return sum(i[k] for i in self.items)

    def nodes_with(self, field):
        k = self.FIELDS[field]
        return sorted({i[0] for i in self.items if i[k]})


def _err(a, b):
    """max |a - b| over the elements finite in both."""
    f = torch.isfinite(a) & torch.isfinite(b)
    return float((a[f] - b[f]).abs().max()) if f.any() else 0.0


def _scale(t):
    t = t[torch.isfinite(t)]
    return float(t.abs().max()) if t.numel() else 0.0


class Rectify(torch.autograd.Function):
    """Relu / Clip(min 0, max m) / LeakyRelu with DESIGN.md §1's backward rules.

    The backward mask comes from the float64 forward input `s64` (mode "f64"), from ORT's fp32
    forward input `s32` (mode "fp32"), or from `s64` with every element at risk (within RISK x
    max|s32 - s64| of a threshold) flipped to the other side (mode "flip", the worst case of a
    rounding difference in an fp32 forward). Clip with min != 0 has the true gradient under every
    rule."""

    @staticmethod
    def forward(ctx, x, kind, lo, hi, alpha, rule, mode, s64, s32, recbox, name):
        ctx.kind, ctx.lo, ctx.hi, ctx.alpha, ctx.rule = kind, lo, hi, alpha, rule
        ctx.mode, ctx.s64, ctx.s32, ctx.recbox, ctx.name = mode, s64, s32, recbox, name
        if kind == "leaky":
            return torch.where(x >= 0, x, alpha * x)
        return x.clamp(min=lo, max=hi)

    @staticmethod
    def _mask(ctx, s):
        if ctx.kind == "clip":
            m = s > ctx.lo
            if ctx.hi is not None:
                m = m & (s < ctx.hi)
            return m
        return s > 0

    @staticmethod
    def _near(ctx, s, band):
        near = s.abs() < band
        if ctx.kind == "clip" and ctx.hi is not None:
            near = near | ((s - ctx.hi).abs() < band)
        return near

    @staticmethod
    def backward(ctx, g):
        kind, rule = ctx.kind, ctx.rule
        if ctx.mode == "fp32":
            inside = Rectify._mask(ctx, ctx.s32)
        elif ctx.mode == "flip":
            inside = Rectify._mask(ctx, ctx.s64) ^ Rectify._near(ctx, ctx.s64, RISK * _err(ctx.s64, ctx.s32))
        else:
            inside = Rectify._mask(ctx, ctx.s64)
        if kind == "clip" and ctx.lo != 0:  # not a rectifier: true gradient for every rule
            return (g * inside,) + (None,) * 10
        if rule == "deconvnet":
            gx = g.clamp(min=0)
        elif rule == "guided":
            gx = g.clamp(min=0) * inside
        elif kind == "leaky":
            gx = g * torch.where(inside, torch.ones_like(g), torch.full_like(g, ctx.alpha))
        else:
            gx = g * inside
        rec = ctx.recbox[0]
        if rec is not None and rule != "deconvnet":
            sig = (g > 0) if rule == "guided" else (g != 0)
            s64 = ctx.s64
            near = Rectify._near(ctx, s64, TOL * _scale(s64))
            risk = Rectify._near(ctx, s64, RISK * _err(s64, ctx.s32))
            flips = Rectify._mask(ctx, s64) != Rectify._mask(ctx, ctx.s32)
            rec.add(ctx.name, kind, sig.sum(), (sig & near).sum(), (sig & flips).sum(), 0, (sig & risk).sum())
        return (gx,) + (None,) * 10


def _record_kinks(out, name, kinks, s64, s32, recbox):
    """HardSigmoid / HardSwish: their derivative jumps at `kinks`; record signal near them."""
    if not out.requires_grad:
        return
    kt = torch.tensor(sorted(kinks), dtype=torch.float64)

    def hook(g):
        rec = recbox[0]
        if rec is not None:
            sig = g != 0
            sc = max(_scale(s64), 1.0)
            near = torch.zeros_like(sig)
            for k in kinks:
                near = near | ((s64 - k).abs() < TOL * sc)
            flips = torch.bucketize(s64, kt) != torch.bucketize(s32, kt)
            rec.add(name, "kink", sig.sum(), (sig & near).sum(), (sig & flips).sum())
        return g

    out.register_hook(hook)


# ----------------------------------------------------------------------------------------------
# The ONNX interpreter (float64 torch)
# ----------------------------------------------------------------------------------------------

def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _str(v):
    return v.decode() if isinstance(v, bytes) else v


def _value(arr):
    """Float arrays become float64 torch tensors; integer arrays stay NumPy int64 (shape math)."""
    arr = np.asarray(arr)
    if arr.dtype.kind == "f":
        return torch.from_numpy(np.array(arr, dtype=np.float64))
    return np.array(arr, dtype=np.int64)


def _pool_geometry(shape_hw, k, s, d, pads, ceil):
    """ONNX output size (with PyTorch/ORT's rule that the last window must start inside the input
    or the leading pad) and the extra trailing padding that makes a floor-mode pool give it."""
    out, extra = [], []
    for i in range(2):
        n = shape_hw[i]
        ext = d[i] * (k[i] - 1) + 1
        span = n + pads[i] + pads[i + 2] - ext
        o = (-(-span // s[i]) if ceil else span // s[i]) + 1
        if ceil and (o - 1) * s[i] >= n + pads[i]:
            o -= 1
        out.append(o)
        extra.append(max(0, (o - 1) * s[i] + ext - (n + pads[i] + pads[i + 2])))
    return out, extra


def _auto_pads(auto_pad, hw, k, s, d, pads):
    if auto_pad in ("", "NOTSET"):
        return list(pads) if pads else [0, 0, 0, 0]
    if auto_pad == "VALID":
        return [0, 0, 0, 0]
    begin, end = [], []
    for i in range(2):
        o = -(-hw[i] // s[i])
        total = max(0, (o - 1) * s[i] + d[i] * (k[i] - 1) + 1 - hw[i])
        b = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
        begin.append(b)
        end.append(total - b)
    return begin + end


class Interp:
    """Evaluates an ONNX graph in float64 with torch ops (the subset the fixtures need)."""

    RECT = ("Relu", "Clip", "LeakyRelu")
    MASKED = ("Relu", "Clip", "LeakyRelu", "MaxPool", "HardSigmoid", "HardSwish")

    def __init__(self, model):
        self.model = model
        self.opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        self.consts = {i.name: _value(numpy_helper.to_array(i)) for i in model.graph.initializer}
        self.input_name = fwd.graph_input_name(model)
        self.nodes = list(model.graph.node)
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.outputs = [o.name for o in model.graph.output]

    def node_of(self, tensor):
        return self.producer[tensor]

    def mask_sources(self):
        return sorted({n.input[0] for n in self.nodes if n.op_type in self.MASKED})

    def run(self, x, rule="backprop", lrn="true", ref32=None, mode="f64", recbox=None):
        """Mode "f32" runs the whole graph in float32 (an emulation of an fp32 implementation: its own
        masks and switches, float32 accumulation); the other modes run in float64."""
        dt = torch.float32 if mode == "f32" else torch.float64

        def cast(v):
            return v.to(dt) if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dtype != dt else v

        env = {k: cast(v) for k, v in self.consts.items()}
        env[self.input_name] = x
        recbox = recbox if recbox is not None else [None]
        for n in self.nodes:
            ins = [env[i] if i else None for i in n.input]
            outs = self.eval(n, ins, rule, lrn, ref32, mode, recbox)
            for name, v in zip(n.output, outs):
                if name:
                    env[name] = cast(v)
        return env

    def eval(self, n, ins, rule, lrn, ref32, mode, recbox):
        op, a = n.op_type, _attrs(n)
        x = ins[0] if ins else None
        name = n.name or n.output[0]

        def s32_of():
            if ref32 is None or mode == "f32":
                return x.detach()
            return ref32[n.input[0]]

        if op == "Constant":
            if "value" in a:
                return [_value(numpy_helper.to_array(a["value"]))]
            if "value_float" in a:
                return [torch.tensor(a["value_float"], dtype=torch.float64)]
            if "value_floats" in a:
                return [torch.tensor(a["value_floats"], dtype=torch.float64)]
            if "value_int" in a:
                return [np.array(a["value_int"], np.int64)]
            if "value_ints" in a:
                return [np.array(a["value_ints"], np.int64)]
            raise NotImplementedError(f"Constant {name}: {list(a)}")
        if op in ("Identity", "Dropout"):
            return [x]
        if op == "Conv":
            w, b = ins[1], (ins[2] if len(ins) > 2 else None)
            assert x.dim() == 4, (name, x.shape)
            k = a.get("kernel_shape", list(w.shape[2:]))
            s = a.get("strides", [1, 1])
            d = a.get("dilations", [1, 1])
            p = _auto_pads(_str(a.get("auto_pad", "NOTSET")), x.shape[2:], k, s, d, a.get("pads"))
            xp = F.pad(x, (p[1], p[3], p[0], p[2])) if any(p) else x
            return [F.conv2d(xp, w, b, stride=s, dilation=d, groups=a.get("group", 1))]
        if op in self.RECT:
            if op == "Relu":
                kind, lo, hi, alpha = "relu", 0.0, None, 0.0
            elif op == "LeakyRelu":
                kind, lo, hi, alpha = "leaky", 0.0, None, float(a.get("alpha", 0.01))
            else:
                kind, alpha = "clip", 0.0
                if self.opset >= 11:
                    lo = float(ins[1]) if len(ins) > 1 and ins[1] is not None else -math.inf
                    hi = float(ins[2]) if len(ins) > 2 and ins[2] is not None else None
                else:
                    lo, hi = float(a.get("min", -3.4028234663852886e38)), a.get("max")
                    hi = float(hi) if hi is not None else None
            return [Rectify.apply(x, kind, lo, hi, alpha, rule, mode, x.detach(), s32_of(), recbox, name)]
        if op == "Sigmoid":
            return [torch.sigmoid(x)]
        if op == "Tanh":
            return [torch.tanh(x)]
        if op == "HardSigmoid":
            al, be = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
            y = (al * x + be).clamp(0, 1)
            _record_kinks(y, name, (-be / al, (1 - be) / al), x.detach(), s32_of(), recbox)
            return [y]
        if op == "HardSwish":
            y = x * (x / 6 + 0.5).clamp(0, 1)
            _record_kinks(y, name, (-3.0, 3.0), x.detach(), s32_of(), recbox)
            return [y]
        if op in ("Add", "Sub", "Mul", "Div"):
            u, v = ins
            if isinstance(u, np.ndarray) and isinstance(v, np.ndarray):
                f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.floor_divide}[op]
                return [f(u, v)]
            u = torch.from_numpy(u.astype(np.float64)) if isinstance(u, np.ndarray) else u
            v = torch.from_numpy(v.astype(np.float64)) if isinstance(v, np.ndarray) else v
            return [{"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}[op](u, v)]
        if op == "MaxPool":
            return [self.maxpool(x, a, name, s32_of(), mode, recbox)]
        if op == "AveragePool":
            k = a["kernel_shape"]
            s = a.get("strides", [1, 1])
            p = _auto_pads(_str(a.get("auto_pad", "NOTSET")), x.shape[2:], k, s, [1, 1], a.get("pads"))
            (oh, ow), (eh, ew) = _pool_geometry(x.shape[2:], k, s, [1, 1], p, a.get("ceil_mode", 0))
            xp = F.pad(x, (p[1], p[3] + ew, p[0], p[2] + eh))
            ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype)
            cnt_src = F.pad(ones, (p[1], p[3], p[0], p[2]), value=1.0 if a.get("count_include_pad", 0) else 0.0)
            cnt_src = F.pad(cnt_src, (0, ew, 0, eh))
            tot = F.avg_pool2d(xp, k, s, divisor_override=1)
            cnt = F.avg_pool2d(cnt_src, k, s, divisor_override=1)
            assert tot.shape[2:] == (oh, ow)
            return [tot / cnt]
        if op == "GlobalAveragePool":
            return [x.mean(dim=tuple(range(2, x.dim())), keepdim=True)]
        if op == "BatchNormalization":
            sc, bi, mu, var = ins[1:5]
            shp = (1, -1) + (1,) * (x.dim() - 2)
            eps = float(a.get("epsilon", 1e-5))
            return [(x - mu.view(shp)) / torch.sqrt(var.view(shp) + eps) * sc.view(shp) + bi.view(shp)]
        if op == "LRN":
            size = int(a["size"])
            alpha, beta, bias = float(a.get("alpha", 1e-4)), float(a.get("beta", 0.75)), float(a.get("bias", 1.0))
            lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
            C = x.shape[1]
            sq = F.pad(x * x, (0, 0, 0, 0, lo, hi))
            ssum = sum(sq[:, i:i + C] for i in range(size))
            y = x / (bias + alpha / size * ssum) ** beta
            if lrn == "passthrough":  # forward value unchanged, backward the identity
                y = x + (y - x).detach()
            return [y]
        if op == "Gemm":
            A, B = ins[0], ins[1]
            A = A.t() if a.get("transA", 0) else A
            B = B.t() if a.get("transB", 0) else B
            y = float(a.get("alpha", 1.0)) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                y = y + float(a.get("beta", 1.0)) * ins[2]
            return [y]
        if op == "MatMul":
            return [torch.matmul(ins[0], ins[1])]
        if op == "Flatten":
            ax = a.get("axis", 1)
            ax = ax + x.dim() if ax < 0 else ax
            return [x.reshape(int(np.prod(x.shape[:ax], dtype=np.int64)), -1)]
        if op == "Reshape":
            shape = [int(v) for v in ins[1]]
            if not a.get("allowzero", 0):
                shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
            return [x.reshape(shape)]
        if op == "Transpose":
            return [x.permute(*a.get("perm", list(range(x.dim()))[::-1]))]
        if op == "Concat":
            ax = a["axis"]
            if all(isinstance(v, np.ndarray) for v in ins):
                return [np.concatenate(ins, axis=ax)]
            return [torch.cat(ins, dim=ax)]
        if op == "Shape":
            return [np.array(x.shape, np.int64)]
        if op == "Gather":
            assert isinstance(x, np.ndarray), f"{name}: Gather on float data is not needed here"
            return [np.take(x, ins[1], axis=a.get("axis", 0))]
        if op in ("Unsqueeze", "Squeeze"):
            axes = a.get("axes") if "axes" in a else (list(ins[1]) if len(ins) > 1 and ins[1] is not None else None)
            if op == "Unsqueeze":
                r = x.ndim + len(axes) if isinstance(x, np.ndarray) else x.dim() + len(axes)
                axes = sorted(ax + r if ax < 0 else ax for ax in axes)
                for ax in axes:
                    x = np.expand_dims(x, ax) if isinstance(x, np.ndarray) else x.unsqueeze(ax)
                return [x]
            if isinstance(x, np.ndarray):
                return [np.squeeze(x, axis=tuple(axes) if axes is not None else None)]
            dims = [ax + x.dim() if ax < 0 else ax for ax in axes] if axes is not None else \
                [i for i, s in enumerate(x.shape) if s == 1]
            return [x.reshape([s for i, s in enumerate(x.shape) if i not in dims])]
        if op == "Softmax":
            ax = a.get("axis", -1 if self.opset >= 13 else 1)
            if self.opset >= 13:
                return [F.softmax(x, dim=ax)]
            ax = ax + x.dim() if ax < 0 else ax
            flat = x.reshape(int(np.prod(x.shape[:ax])), -1)
            return [F.softmax(flat, dim=1).reshape(x.shape)]
        raise NotImplementedError(f"op {op} ({name})")

    @staticmethod
    def maxpool(x, a, name, s32, mode, recbox):
        """MaxPool as a gather at the switches: the first maximum of each window (row-major);
        the gather's backward routes each output's signal there and adds overlapping windows.
        Mode "fp32" takes the switches from ORT's fp32 input; mode "flip" moves the switch of every
        window at risk (0 < top1 - top2 < RISK x max|ORT fp32 - float64|) to the runner-up."""
        k = a["kernel_shape"]
        s = a.get("strides", [1, 1])
        d = a.get("dilations", [1, 1])
        p = _auto_pads(_str(a.get("auto_pad", "NOTSET")), x.shape[2:], k, s, d, a.get("pads"))
        (oh, ow), (eh, ew) = _pool_geometry(x.shape[2:], k, s, d, p, a.get("ceil_mode", 0))
        padding = (p[1], p[3] + ew, p[0], p[2] + eh)
        xp = F.pad(x, padding, value=-math.inf)
        sp64 = xp.detach()
        sp32 = F.pad(s32, padding, value=-math.inf)
        _, i64 = F.max_pool2d(sp64, k, s, 0, d, return_indices=True)
        _, i32 = F.max_pool2d(sp32, k, s, 0, d, return_indices=True)
        assert i64.shape[2:] == (oh, ow), (name, i64.shape, oh, ow)
        n_, c_ = i64.shape[:2]
        wp = sp64.shape[3]
        win = F.unfold(sp64.reshape(n_ * c_, 1, *sp64.shape[2:]), k, dilation=d, stride=s)
        if win.shape[1] > 1:
            top, arg = win.topk(2, dim=1)
        else:
            top = torch.cat([win, torch.full_like(win, -math.inf)], 1)
            arg = torch.zeros_like(top, dtype=torch.long)
        gap = (top[:, 0] - top[:, 1]).reshape(i64.shape)
        sc = _scale(x.detach())
        near = (gap > 0) & (gap < TOL * sc)
        risk = (gap > 0) & (gap < RISK * _err(x.detach(), s32))
        if mode == "fp32":
            idx = i32
        elif mode == "flip":
            kk = arg[:, 1].reshape(i64.shape)
            oy = torch.arange(oh).view(1, 1, oh, 1)
            ox = torch.arange(ow).view(1, 1, 1, ow)
            second = (oy * s[0] + (kk // k[1]) * d[0]) * wp + ox * s[1] + (kk % k[1]) * d[1]
            idx = torch.where(risk, second, i64)
        else:
            idx = i64
        out = xp.reshape(n_, c_, -1).gather(2, idx.reshape(n_, c_, -1)).reshape(idx.shape)
        if out.requires_grad:

            def hook(g):
                rec = recbox[0]
                if rec is not None:
                    sig = g != 0
                    rec.add(name, "maxpool", sig.sum(), (sig & near).sum(), (sig & (i64 != i32)).sum(),
                            (sig & (gap == 0)).sum(), (sig & risk).sum())
                return g

            out.register_hook(hook)
        return out


class Pass:
    """One forward pass under one rule set, kept for many backward passes (seeds)."""

    def __init__(self, interp, x32, rule, lrn, ref32, mode):
        dt = np.float32 if mode == "f32" else np.float64
        self.x = torch.from_numpy(np.array(x32, dt)).requires_grad_(True)
        self.recbox = [None]
        self.env = interp.run(self.x, rule, lrn, ref32, mode, self.recbox)

    def project(self, tensor, seed):
        rec = Recorder()
        self.recbox[0] = rec
        try:
            (g,) = torch.autograd.grad(self.env[tensor], self.x, grad_outputs=seed, retain_graph=True)
        finally:
            self.recbox[0] = None
        return g.detach().numpy().astype(np.float64), rec


# ----------------------------------------------------------------------------------------------
# Cases: seed selection, checks, writing
# ----------------------------------------------------------------------------------------------

class Case:
    def __init__(self, name, model, x32, model_ref, lrn="true", strict_units=True, model_note=""):
        self.name, self.model, self.model_ref, self.lrn = name, model, model_ref, lrn
        self.x32 = np.ascontiguousarray(x32, np.float32)
        self.strict_units = strict_units
        self.model_note = model_note
        self.interp = Interp(model)
        names = [o for n in model.graph.node if n.op_type != "Constant" for o in n.output if o]
        self.ort = fwd.ort_run(model, {self.interp.input_name: self.x32}, names)
        self.ref32 = {t: torch.from_numpy(self.ort[t].astype(np.float64)) for t in self.interp.mask_sources()
                      if t in self.ort}
        for t in self.interp.mask_sources():
            if t not in self.ref32:  # the graph input itself
                assert t == self.interp.input_name, t
                self.ref32[t] = torch.from_numpy(self.x32.astype(np.float64))
        self.passes = {}
        self.entries = []      # (entry dict, projection float64, stats)
        self.reduced = []      # seeds kept with fewer rules: (layer, kind, channel, rules, why not all)
        self.used = set()
        self.fwd_checks = {}
        env = self.pass_for("backprop", "f64").env
        for out in self.interp.outputs:
            self.check_forward(out, env)

    def pass_for(self, rule, mode):
        key = (rule, mode)
        if key not in self.passes:
            self.passes[key] = Pass(self.interp, self.x32, rule, self.lrn, self.ref32, mode)
        return self.passes[key]

    def check_forward(self, tensor, env=None):
        if tensor in self.fwd_checks:
            return
        env = env or self.pass_for("backprop", "f64").env
        err = rel_l2(env[tensor].detach().numpy(), self.ort[tensor])
        assert err <= FWD_TOL, f"{self.name}: interpreter forward of {tensor} differs from ORT: {err:.2e}"
        self.fwd_checks[tensor] = err

    def act64(self, tensor):
        return self.pass_for("backprop", "f64").env[tensor].detach()

    def seed(self, tensor, kind, c, y=None, x=None, mode="f64"):
        a = self.pass_for("backprop", mode).env[tensor].detach() if mode == "f32" else self.act64(tensor)
        s = torch.zeros_like(a)
        if kind == "map":
            s[0, c] = a[0, c]
        elif a.dim() == 4:
            s[0, c, y, x] = 1.0
        else:
            s[0, c] = 1.0
        return s

    def evaluate(self, tensor, kind, c, y=None, x=None, strict=None, allow_zero=(), rules=RULES):
        """Projects one seed under every rule; returns (ok, reason, results by rule). `strict`: no
        element with backward signal may be near a threshold (default: unit seeds of small models);
        otherwise near-threshold elements are allowed when flipping all of them at once changes the
        projection by less than MASK_EFFECT. `allow_zero`: rules whose projection may be all zero.
        `rules`: the rule sets to project (all three by default)."""
        if strict is None:
            strict = self.strict_units and kind == "unit"
        seed = self.seed(tensor, kind, c, y, x)
        res = {}
        for rule in rules:
            p64, rec = self.pass_for(rule, "f64").project(tensor, seed)
            p32, _ = self.pass_for(rule, "fp32").project(tensor, seed)
            eff = rel_l2(p32, p64)
            near, risk = rec.total("near"), rec.total("risk")
            effn = rel_l2(self.pass_for(rule, "flip").project(tensor, seed)[0], p64) if risk else 0.0
            e32 = rel_l2(self.pass_for(rule, "f32").project(tensor, self.seed(tensor, kind, c, y, x, "f32"))[0], p64)
            st = {"near": near, "risk": risk, "flips": rec.total("flips"), "ties": rec.total("ties"),
                  "signal": rec.total("signal"), "effect": eff, "flip_effect": effn, "f32": e32,
                  "near_nodes": rec.nodes_with("near"), "flip_nodes": rec.nodes_with("flips"),
                  "risk_nodes": rec.nodes_with("risk"),
                  "tie_nodes": rec.nodes_with("ties"),
                  "kink_near": sum(i[3] for i in rec.items if i[1] == "kink")}
            res[rule] = (p64, st)
            if not np.any(p64) and rule not in allow_zero:
                return False, f"{rule}: zero projection", res
            if not np.all(np.isfinite(p64)):
                return False, f"{rule}: non-finite projection", res
            if st["kink_near"]:
                return False, f"{rule}: {st['kink_near']} elements near a HardSigmoid/HardSwish kink", res
            if e32 >= F32_LIMIT:
                return False, f"{rule}: a float32 run of the same computation differs by {e32:.2e}", res
            if eff >= MASK_EFFECT:
                return False, f"{rule}: masks from ORT's fp32 forward change it by {eff:.2e}", res
            if effn >= MASK_EFFECT:
                return False, f"{rule}: flipping {risk} at-risk masks changes it by {effn:.2e}", res
            if strict and (st["near"] or st["flips"]):
                return False, f"{rule}: {st['near']} near-threshold, {st['flips']} flips", res
        return True, "", res

    def add(self, tensor, kind, c, y=None, x=None, position=None, res=None, rules=RULES):
        self.check_forward(tensor)
        node = self.interp.node_of(tensor)
        a32 = self.ort[tensor]
        if kind == "map":
            act = float(a32[0, c].max())
        elif a32.ndim == 4:
            act = float(a32[0, c, y, x])
        else:
            act = float(a32[0, c])
        for rule in rules:
            p64, st = res[rule]
            e = {"layer": node.name, "tensor": tensor, "seed": kind, "channel": int(c)}
            if kind == "unit" and a32.ndim == 4:
                e["y"], e["x"] = int(y), int(x)
            if kind == "unit" and position:
                e["position"] = position
            e["activation"] = act
            e["rule"] = rule
            e["file"] = f"p_{len(self.entries)}.npy"
            self.entries.append((e, p64, st))
        self.used.add((tensor, c))

    # --- candidate selection -------------------------------------------------------------------

    def _clip_hi(self, tensor):
        n = self.interp.node_of(tensor)
        if n.op_type != "Clip":
            return None
        env = self.pass_for("backprop", "f64").env
        return float(env[n.input[2]]) if len(n.input) > 2 and n.input[2] else None

    def channel_order(self, tensor):
        """Unused channels by decreasing maximum (fp32); Clip layers skip channels that saturate."""
        a = self.ort[tensor][0]
        hi = self._clip_hi(tensor)
        mx = a.reshape(a.shape[0], -1).max(1)
        order = [int(c) for c in np.argsort(-mx, kind="stable")]
        if hi is not None:  # a channel whose maximum is the Clip max has ties at exactly m
            order = [c for c in order if mx[c] < hi * (1 - 1e-3)]
        return [c for c in order if (tensor, c) not in self.used and mx[c] > 0]

    def argmax_ok(self, tensor, c):
        """4-D: the channel's map has a unique first maximum (same in fp32 and float64), not a near-tie.
        2-D: channel c is the unique top entry of the layer."""
        if self.ort[tensor].ndim == 2:
            m32, m64 = self.ort[tensor][0], self.act64(tensor)[0].numpy()
            srt = np.sort(m32)
            ok = int(np.argmax(m32)) == c == int(np.argmax(m64)) and srt[-1] - srt[-2] > TOL * np.abs(m32).max()
            return bool(ok), c
        m32 = self.ort[tensor][0, c].ravel()
        m64 = self.act64(tensor)[0, c].numpy().ravel()
        i = int(np.argmax(m32))
        srt = np.sort(m32)
        gap = float(srt[-1] - srt[-2]) if m32.size > 1 else math.inf
        return i == int(np.argmax(m64)) and gap > TOL * float(np.abs(m32).max()), i

    def _first_passing(self, tensor, candidates, what, rule_sets=(RULES,)):
        """candidates: list of (kind, c, y, x, position); adds the first that passes `evaluate` with
        the first rule set of `rule_sets` for which any candidate passes."""
        why, first_reason = [], {}
        for rules in rule_sets:
            for kind, c, y, x, pos in candidates:
                ok, reason, res = self.evaluate(tensor, kind, c, y, x, rules=rules)
                if ok:
                    self.add(tensor, kind, c, y, x, pos, res, rules=rules)
                    if rules != RULES:
                        self.reduced.append((self.interp.node_of(tensor).name, kind, c, rules,
                                             first_reason.get((c, y, x), "")))
                    return c, (y, x)
                first_reason.setdefault((c, y, x), reason)
                why.append(f"c{c}@{y},{x} {'/'.join(rules)}: {reason}")
        raise SeedError(f"{self.name} {tensor}: no {what} passed: {why}")

    def add_unit_argmax(self, tensor, tries=12, rule_sets=(RULES,)):
        a32 = self.ort[tensor]
        cands = []
        for c in self.channel_order(tensor)[:tries]:
            ok, i = self.argmax_ok(tensor, c)
            if ok:
                y, x = divmod(i, a32.shape[3]) if a32.ndim == 4 else (None, None)
                cands.append(("unit", c, y, x, "argmax" if a32.ndim == 4 else None))
        return self._first_passing(tensor, cands, "argmax unit", rule_sets)

    def add_unit_chosen(self, tensor, tries=12, rule_sets=(RULES,)):
        """A unit on another strong channel, at a position whose activation is close to half the
        channel maximum (not the argmax), preferring positions away from the border."""
        a32 = self.ort[tensor]
        hi = self._clip_hi(tensor)
        cands = []
        for c in self.channel_order(tensor)[:tries]:
            m = a32[0, c]
            mx = float(m.max())
            h, w = m.shape
            pos = []
            for y in range(h):
                for x in range(w):
                    v = float(m[y, x])
                    if v <= 0.25 * mx or v >= mx or (hi is not None and v >= hi * (1 - 1e-3)):
                        continue
                    border = min(y, x, h - 1 - y, w - 1 - x) == 0 and h > 4
                    pos.append((border, abs(v - 0.5 * mx), y, x))
            cands += [("unit", c, y, x, "chosen") for _, _, y, x in sorted(pos)[:2]]
        return self._first_passing(tensor, cands, "chosen unit", rule_sets)

    def add_map(self, tensor, tries=12, rule_sets=(RULES,)):
        return self._first_passing(tensor, [("map", c, None, None, None) for c in self.channel_order(tensor)[:tries]],
                                   "map seed", rule_sets)[0]

    def add_fixed_unit(self, tensor, c, y=None, x=None, position="chosen", allow_zero=()):
        ok, reason, res = self.evaluate(tensor, "unit", c, y, x, strict=True, allow_zero=allow_zero)
        assert ok, f"{self.name} {tensor} c={c} {y},{x}: {reason}"
        self.add(tensor, "unit", c, y, x, position, res)

    # --- writing ---------------------------------------------------------------------------------

    def summary(self):
        eff = max(st["effect"] for _, _, st in self.entries)
        effn = max(st["flip_effect"] for _, _, st in self.entries)
        e32 = max(st["f32"] for _, _, st in self.entries)
        near = [(e, st) for e, _, st in self.entries if st["near"] or st["flips"] or st["risk"]]
        ties = sorted({n for _, _, st in self.entries for n in st["tie_nodes"]})
        return eff, effn, e32, near, ties

    def write(self, note, extra=None, save_model=False):
        d = os.path.join(OUT, self.name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        if save_model:
            onnx.save(self.model, os.path.join(d, "model.onnx"))
        np.save(os.path.join(d, "input.npy"), self.x32)
        for e, p64, _ in self.entries:
            p = np.ascontiguousarray(p64.astype(np.float32))
            assert p.shape == self.x32.shape, (self.name, e, p.shape)
            np.save(os.path.join(d, e["file"]), p)
            assert os.path.getsize(os.path.join(d, e["file"])) <= MAX_NPY, (self.name, e["file"])
        eff, effn, e32, near, ties = self.summary()
        checks = (f"Checks of every projection (relative L2, limit {F32_LIMIT:g}): a float32 run of the same "
                  f"computation (float32 weights, its own masks and switches) differs by at most {e32:.1e}; taking "
                  f"every mask and switch from ORT's fp32 forward instead of the float64 one changes it by at most "
                  f"{eff:.1e}. Near-threshold scan over every element that receives backward signal ('near': within "
                  f"{TOL:g} x max|tensor| of a Relu/Clip/LeakyRelu threshold (0, or the Clip max) where the rule uses "
                  f"the mask; a max-pool window whose top two values differ by less than that; a HardSigmoid/"
                  f"HardSwish kink): ")
        if near:
            which = sorted({f"{e['layer']} {e['seed']} c{e['channel']} {e['rule']}" for e, st in near})
            nodes = sorted({n for e, st in near for n in st["near_nodes"] + st["flip_nodes"] + st["risk_nodes"]})
            checks += (f"{len(near)} of {len(self.entries)} projections ({'; '.join(which)}) pass "
                       f"{sum(st['near'] for _, st in near)} near elements in all (at {', '.join(nodes)}), none of "
                       f"them on the other side in ORT's fp32 forward"
                       if not sum(st['flips'] for _, st in near) else
                       f"{len(near)} of {len(self.entries)} projections ({'; '.join(which)}) pass "
                       f"{sum(st['near'] for _, st in near)} near elements (at {', '.join(nodes)}), "
                       f"{sum(st['flips'] for _, st in near)} of them on the other side in ORT's fp32 forward")
            checks += (f"; flipping at once every element within {RISK} x the tensor's max |ORT fp32 - float64| of "
                       f"its threshold ({sum(st['risk'] for _, st in near)} in all; mask toggled, switch moved to "
                       f"the runner-up) changes a projection by at most {effn:.1e}. ")
        else:
            checks += "none (all unit and map seeds of this case are clear of every threshold). "
        if self.strict_units:
            checks += ("Unit seeds were required to pass no near element at all; candidate units (and inputs) "
                       "that did were skipped. ")
        else:
            checks += ("Near elements are allowed here (a unit of this network sees up to millions of masks) when "
                       "the flip test, the float32 run and the ORT-fp32-mask test stay below the limit. ")
        if self.reduced:
            checks += ("Seeds kept with fewer rules because no candidate passed with all three (the omitted rules "
                       "depend on masks that an fp32 forward cannot be trusted to reproduce): " +
                       "; ".join(f"{layer} {kind} c{c}: only {'/'.join(rules)} (first failure: {reason})"
                                 for layer, kind, c, rules, reason in self.reduced) + ". ")
        if ties:
            checks += ("Exact max-pool ties (equal values, e.g. zeros after Relu) receive signal at "
                       f"{', '.join(ties)}: the switch is the first maximum in row-major order, the same in float64 "
                       "and in ORT's fp32 forward.")
        fc = max(self.fwd_checks.values())
        doc = {"model": self.model_ref, "input": "input.npy", "projections": [e for e, _, _ in self.entries]}
        if extra:
            doc.update(extra)
        doc["note"] = (" ".join(t for t in (note, self.model_note) if t) +
                       f" Projections: float64 PyTorch autograd through an ONNX interpreter with DESIGN.md §1's "
                       f"rules (Tests/ReferenceGenerators/make_projection_fixtures.py), stored as float32 "
                       f"[1,C,H,W] in the model's input space. Seeds are float64; a map seed uses the channel's "
                       f"float64 activation map; \"activation\" is ORT's fp32 value of the unit (for map seeds, "
                       f"the channel maximum). Argmax positions are the first maximum of ORT's fp32 map and are "
                       f"not near-ties. Interpreter forward vs ORT fp32: max rel L2 {fc:.1e} over the model "
                       f"output and the seeded layers. " + checks.rstrip() + f" {VERSIONS}.")
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print(f"{self.name:26s} {len(self.entries):3d} projections {size / 1024:8.1f} KiB  max float32-run diff "
              f"{e32:.1e}  ORT-fp32-mask effect {eff:.1e}  at-risk flip effect {effn:.1e}  "
              f"projections with near elements {len(near)}")
        for e, p64, st in self.entries:
            pos = f"@{e['y']},{e['x']}" if "y" in e else ""
            print(f"    {e['file']:9s} {e['layer']:48s} {e['seed']:4s} c{e['channel']}{pos:8s} {e['rule']:9s} "
                  f"|p|={np.linalg.norm(p64):.3e} near={st['near']} risk={st['risk']} flips={st['flips']} ties={st['ties']} "
                  f"eff={st['effect']:.1e} flipeff={st['flip_effect']:.1e} f32={st['f32']:.1e} {','.join(st['near_nodes'])}")


# ----------------------------------------------------------------------------------------------
# Captum cross-checks
# ----------------------------------------------------------------------------------------------

def set_not_inplace(net):
    for m in net.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    return net


def captum_check(case, net, layers, rules=RULES, label=""):
    """Compares every unit-seed projection of `case` whose layer is in `layers` (ONNX node name ->
    torch module) with Captum's Neuron* attribution on the float64 module `net`."""
    net = set_not_inplace(net).double().eval()
    cls = {"deconvnet": NeuronDeconvolution, "guided": NeuronGuidedBackprop, "backprop": NeuronGradient}
    worst = {}
    n = 0
    for e, p64, _ in case.entries:
        if e["seed"] != "unit" or e["layer"] not in layers or e["rule"] not in rules:
            continue
        sel = (e["channel"], e["y"], e["x"]) if "y" in e else (e["channel"],)
        xt = torch.from_numpy(case.x32.astype(np.float64))
        att = cls[e["rule"]](net, layers[e["layer"]]).attribute(xt, neuron_selector=sel)
        err = rel_l2(att.detach().numpy(), p64)
        if not err <= CAPTUM_TOL:
            raise AssertionError(f"Captum disagrees on {case.name} {e}: rel L2 {err:.2e}")
        worst[e["rule"]] = max(worst.get(e["rule"], 0.0), err)
        n += 1
    assert n, (case.name, "nothing cross-checked")
    line = f"{case.name}{label}: {n} unit projections vs Captum, max rel L2 " + \
           ", ".join(f"{r} {worst[r]:.1e}" for r in rules if r in worst)
    CAPTUM_LOG.append(line)
    print("  captum", line)
    return worst


def load_onnx_weights(net, model, names):
    """Copies ONNX initializers into torch parameters/buffers (name map: torch name -> ONNX name)."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    sd = net.state_dict()
    for tname, oname in names.items():
        v = torch.from_numpy(inits[oname].copy())
        assert sd[tname].shape == v.shape, (tname, sd[tname].shape, v.shape)
        assert torch.equal(sd[tname].float(), v), f"{tname} differs from the ONNX initializer {oname}"


# ----------------------------------------------------------------------------------------------
# The cases
# ----------------------------------------------------------------------------------------------

def chelsea_input():
    from PIL import Image
    import torchvision.transforms as T
    img = Image.open(CHELSEA).convert("RGB")
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    return tf(img).unsqueeze(0).numpy().astype(np.float32)


class ReLU6AsReLU(nn.ReLU):
    """ReLU6 as an nn.ReLU subclass, so that Captum's NeuronDeconvolution / NeuronGuidedBackprop hook
    it: Captum replaces its input gradient by relu(grad_output) (deconvnet) or relu(grad_input) =
    max(g, 0) * 1[0 < x < 6] (guided), which is DESIGN.md §1's Clip(0, 6) rule."""

    def forward(self, x):
        return F.hardtanh(x, 0.0, 6.0)


def mobilenet_torch(model):
    """torchvision's MobileNetV2 with the bundled model's weights (BatchNorm folded into the convs by
    the exporter, so the BN modules become Identity and the convs get the folded biases), ReLU6 as
    ReLU6AsReLU."""
    net = torchvision.models.mobilenet_v2()
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    onnx_convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(convs) == len(onnx_convs) == 52
    with torch.no_grad():
        for m, n in zip(convs, onnx_convs):
            w, b = inits[n.input[1]], inits[n.input[2]]
            assert tuple(m.weight.shape) == w.shape, (n.name, m.weight.shape, w.shape)
            m.weight.copy_(torch.from_numpy(w))
            m.bias = nn.Parameter(torch.from_numpy(b.copy()))
        net.classifier[1].weight.copy_(torch.from_numpy(inits["classifier.1.weight"]))
        net.classifier[1].bias.copy_(torch.from_numpy(inits["classifier.1.bias"]))
    for parent in list(net.modules()):
        for cname, child in list(parent.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(parent, cname, nn.Identity())
            elif isinstance(child, nn.ReLU6):
                setattr(parent, cname, ReLU6AsReLU())
    return net


def case_mobilenetv2():
    model = onnx.load(fwd.BUNDLED)
    x = chelsea_input()
    labels = dict(p for p in ((q.key, q.value) for q in model.metadata_props))["convlens.labels"].split("\n")
    case = Case("mobilenetv2", model, x, "bundled:mobilenetv2", strict_units=False,
                model_note="Bundled MobileNetV2 (opset 17, BN folded into the convs) on "
                           "Sources/ConvLens/Resources/images/chelsea.png preprocessed with torchvision "
                           "Resize(256) (PIL bilinear, antialiased), CenterCrop(224), ToTensor, Normalize(ImageNet "
                           "mean/std) -> input.npy.")
    logits = case.ort["logits"][0]
    top = int(np.argmax(logits))
    print(f"mobilenetv2: top-1 on chelsea.png = {top} '{labels[top]}'")
    early = "/features/features.2/conv/conv.0/conv.0.2/Clip_output_0"
    mid = "/features/features.6/Add_output_0"
    late = "/features/features.18/features.18.2/Clip_output_0"
    fallback = (RULES, ("deconvnet", "guided"), ("deconvnet",))
    case.add_unit_argmax(early)
    case.add_unit_chosen(early)
    case.add_map(early, tries=48)
    case.add_unit_argmax(mid, tries=16, rule_sets=fallback)
    case.add_unit_chosen(mid, tries=6, rule_sets=fallback)
    case.add_map(mid, tries=3, rule_sets=fallback)
    case.add_unit_argmax(late, tries=3, rule_sets=fallback)
    case.add_unit_chosen(late, tries=2, rule_sets=fallback)
    case.add_map(late, tries=2, rule_sets=fallback)
    c, _ = case.add_unit_argmax("logits", tries=1, rule_sets=fallback)
    assert c == top
    net = mobilenet_torch(model)
    with torch.no_grad():
        tl = net.double().eval()(torch.from_numpy(x.astype(np.float64))).numpy()
    err = rel_l2(tl, case.act64("logits").numpy())
    assert err < 1e-10, err
    layers = {"/features/features.2/conv/conv.0/conv.0.2/Clip": net.features[2].conv[0][2],
              "/features/features.6/Add": net.features[6],
              "/features/features.18/features.18.2/Clip": net.features[18][2],
              "/classifier/classifier.1/Gemm": net.classifier[1]}
    captum_check(case, net, layers, label=" (torchvision MobileNetV2, ReLU6 as an nn.ReLU subclass)")
    case.write(f"Early layer: a ReLU6 (Clip 0..6) of block 2's expansion (112x112); middle: the residual Add of "
               f"block 6 (28x28); late: the last ReLU6 (1280x7x7); fully connected: the logit of the top-1 class "
               f"{top} ('{labels[top]}') of /classifier/classifier.1/Gemm. Channels that saturate at 6 are not "
               f"used for unit seeds (their maximum is a tie at exactly 6). Deconvnet uses no forward mask "
               f"(MobileNetV2 has no MaxPool), so its projections from deep seeds are exact references; guided "
               f"and backprop from deep seeds pass hundreds of ReLU6 inputs within fp32 rounding of 0 (and 6), "
               f"so they are kept only where the checks below pass.")


def case_alexnet():
    model = onnx.load(os.path.join(FIX, "forward", "alexnet", "model.onnx"))
    relu1, relu2, pool2 = "/features/features.1/Relu_output_0", "/features/features.4/Relu_output_0", "output"

    def build(x, desc):
        case = Case("alexnet", model, x, "forward/alexnet/model.onnx",
                    model_note="Model of Tests/Fixtures/forward/alexnet (torchvision alexnet().features[:6], "
                               "torch.manual_seed(0) random init, input 1x3x99x99); input.npy is " + desc +
                               " (the first candidate input whose seeds pass the threshold checks).")
        case.add_unit_argmax(relu1)
        case.add_map(relu1)
        case.add_unit_argmax(relu2)
        case.add_unit_chosen(relu2)
        case.add_map(relu2)
        case.add_unit_argmax(pool2)
        case.add_unit_chosen(pool2)
        case.add_map(pool2)
        return case

    case, _ = first_input("alexnet", build, candidate_inputs("alexnet", (1, 3, 99, 99), 200))
    net = fwd.AlexNetFeatures()
    load_onnx_weights(net, model, {f"features.{i}.{p}": f"features.{i}.{p}" for i in (0, 3) for p in ("weight", "bias")})
    layers = {"/features/features.1/Relu": net.features[1], "/features/features.4/Relu": net.features[4],
              "/features/features.5/MaxPool": net.features[5]}
    captum_check(case, net, layers)
    case.write("Seeds at the first Relu (unit at the argmax, map), the second conv's Relu and the final MaxPool "
               "(3x3/2) (unit at the argmax, unit at a chosen position, map).")


class PassthroughLRN(nn.Module):
    def __init__(self, lrn):
        super().__init__()
        self.lrn = lrn

    def forward(self, x):
        return x + (self.lrn(x) - x).detach()


def vgg_torch(model, passthrough):
    net = fwd.VggLrnBn()
    a = {n.name: _attrs(n) for n in model.graph.node}
    lrn_a = a["/lrn/LRN"]
    lrn = nn.LocalResponseNorm(int(lrn_a["size"]), alpha=float(lrn_a["alpha"]), beta=float(lrn_a["beta"]),
                               k=float(lrn_a["bias"]))
    net.lrn = PassthroughLRN(lrn) if passthrough else lrn
    net.bn.eps = float(a["/bn/BatchNormalization"]["epsilon"])
    names = {k: k for k in ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc.weight", "fc.bias",
                            "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var")}
    load_onnx_weights(net, model, names)
    return net


def candidate_inputs(fixture, shape, first_seed):
    """The forward fixture's input, then standard-normal inputs from np.random.default_rng(first_seed + i)."""
    yield "the input of Tests/Fixtures/forward/" + fixture, np.load(os.path.join(FIX, "forward", fixture, "input.npy"))
    for i in range(8):
        yield (f"np.random.default_rng({first_seed + i}).standard_normal({tuple(shape)}, float32)",
               np.random.default_rng(first_seed + i).standard_normal(shape, dtype=np.float32))


def first_input(name, build, inputs):
    """Builds the case on the first input whose seeds all pass the threshold checks."""
    tried = []
    for desc, x in inputs:
        try:
            return build(x, desc), (desc, x)
        except SeedError as e:
            tried.append(f"{desc}: {e}")
            print(f"  {name}: input '{desc}' rejected: {str(e)[:300]}")
    raise AssertionError(f"{name}: no input passed: {tried}")


def case_vgg(passthrough, chosen=None):
    name = "vgg_lrn_bn_passthrough" if passthrough else "vgg_lrn_bn"
    model = onnx.load(os.path.join(FIX, "forward", "vgg_lrn_bn", "model.onnx"))
    lrn, pool1, relu2, fc, sm = ("/lrn/LRN_output_0", "/pool1/MaxPool_output_0", "/relu2/Relu_output_0",
                                 "/fc/Gemm_output_0", "output")

    def build(x, desc):
        case = Case(name, model, x, "forward/vgg_lrn_bn/model.onnx", lrn="passthrough" if passthrough else "true",
                    model_note="Model of Tests/Fixtures/forward/vgg_lrn_bn (Conv, BatchNormalization, Relu, LRN(5, "
                               "1e-3, 0.75, 2), MaxPool 2/2 ceil_mode, Conv 3x3/2, Relu, AveragePool, Flatten, Gemm, "
                               f"Softmax; input 1x3x21x21); input.npy is {desc} (the first candidate input whose "
                               "seeds pass the threshold checks).")
        case.add_unit_argmax(lrn)
        case.add_unit_argmax(pool1)
        case.add_unit_chosen(pool1)
        case.add_map(pool1)
        case.add_unit_argmax(relu2)
        case.add_unit_chosen(relu2)
        case.add_map(relu2)
        top, _ = case.add_unit_argmax(fc, tries=1)
        c, _ = case.add_unit_argmax(sm, tries=1)
        assert c == top
        return case

    inputs = [chosen] if chosen else candidate_inputs("vgg_lrn_bn", (1, 3, 21, 21), 100)
    case, chosen = first_input(name, build, inputs)
    net = vgg_torch(model, passthrough)
    layers = {"/lrn/LRN": net.lrn, "/pool1/MaxPool": net.pool1, "/relu2/Relu": net.relu2, "/fc/Gemm": net.fc,
              "/softmax/Softmax": net.softmax}
    captum_check(case, net, layers, label=" (LRN identity backward)" if passthrough else "")
    if passthrough:
        case.write("Same input, seeds and model as vgg_lrn_bn, computed with `--lrn passthrough`: LRN's forward is "
                   "unchanged but its backward is the identity (all three rules). Seeds at the LRN output, the "
                   "MaxPool after it, the second Relu, the Gemm (top class logit) and the Softmax output "
                   "(top class).", extra={"lrn": "passthrough"})
    else:
        case.write("Seeds at the LRN output, the MaxPool after it (ceil_mode), the second Relu, the Gemm (logit "
                   "of the top class) and the Softmax output (top class; the true softmax Jacobian). LRN has its "
                   "true gradient; see vgg_lrn_bn_passthrough for `--lrn passthrough`.")
    return chosen


def se_torch_backprop(weights, x, tensor, seed):
    """Plain torch autograd of an independent float64 forward of the squeeze-excitation graph."""
    w, b, w1, b1, w2, b2, sub_c, div_c = [torch.from_numpy(np.asarray(v, np.float64)) for v in weights]
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    conv = F.conv2d(xt, w, b, padding=1)
    relu = F.relu(conv)
    # HardSigmoid and LeakyRelu with the model's float32 attributes (alpha 1/6 and 0.1 rounded to float32)
    fc2 = F.conv2d(F.relu(F.conv2d(relu.mean((2, 3), keepdim=True), w1, b1)), w2, b2)
    g = F.hardtanh(float(np.float32(1 / 6)) * fc2 + 0.5, 0.0, 1.0)
    e = conv * g
    out = (torch.tanh(torch.sigmoid(F.leaky_relu(F.hardswish(e), float(np.float32(0.1))))) - sub_c) / div_c
    t = {"relu_out": relu, "excited": e, "output": out}[tensor]
    (gx,) = torch.autograd.grad(t, xt, grad_outputs=seed)
    return gx.numpy()


def case_squeeze_excitation():
    model = onnx.load(os.path.join(FIX, "forward", "squeeze_excitation", "model.onnx"))
    x = np.load(os.path.join(FIX, "forward", "squeeze_excitation", "input.npy"))
    case = Case("squeeze_excitation", model, x, "forward/squeeze_excitation/model.onnx",
                model_note="Model and input of Tests/Fixtures/forward/squeeze_excitation (Conv -> Relu -> "
                           "GlobalAveragePool -> 1x1 Conv -> Relu -> 1x1 Conv -> HardSigmoid gate -> Mul(conv, gate) "
                           "-> HardSwish -> LeakyRelu(0.1) -> Sigmoid -> Tanh -> Sub -> Div; input 1x8x9x9).")
    for t in ("output", "excited", "relu_out"):
        case.add_unit_argmax(t)
        case.add_unit_chosen(t)
        case.add_map(t)
    weights = fwd.se_model()[1]
    worst = 0.0
    for e, p64, _ in case.entries:
        if e["rule"] != "backprop":
            continue
        seed = case.seed(e["tensor"], e["seed"], e["channel"], e.get("y"), e.get("x"))
        err = rel_l2(se_torch_backprop(weights, case.x32, e["tensor"], seed), p64)
        assert err < 1e-9, (e, err)
        worst = max(worst, err)
    CAPTUM_LOG.append(f"squeeze_excitation: backprop projections vs plain torch autograd of an independent forward "
                      f"(F.relu, F.hardtanh, F.hardswish, F.leaky_relu), max rel L2 {worst:.1e} (no Captum: "
                      f"Captum overrides nn.ReLU only, not LeakyReLU)")
    print("  check ", CAPTUM_LOG[-1])
    case.write("Seeds at the final output (post/div), the excitation Mul (se/excite; the product rule reaches the "
               "input both directly and through the gate) and the first Relu (se/relu). The rule of DESIGN.md §1 "
               "applies to se/relu, se/fc1_relu (on the gate path) and act/leakyrelu; HardSigmoid, HardSwish, "
               "Sigmoid, Tanh, Mul, Sub and Div have their true derivative under every rule.")


def case_handmade():
    w = np.array([[[[1, 2], [3, 4]]]], np.float32)
    b = np.array([0.5], np.float32)
    x = np.array([[[[1, 0, 2, 1],
                    [0, 1, 0, 3],
                    [2, -5, 1, 0],
                    [1, 0, 2, 1]]]], np.float32)
    nodes = [fwd.node("Conv", ["input", "conv.weight", "conv.bias"], ["conv_out"], "conv", kernel_shape=[2, 2]),
             fwd.node("Relu", ["conv_out"], ["relu_out"], "relu"),
             fwd.node("MaxPool", ["relu_out"], ["output"], "pool", kernel_shape=[2, 2], strides=[2, 2])]
    model = fwd.build("handmade_projection", nodes, ("input", [1, 1, 4, 4]), ("output", [1, 1, 1, 1]),
                      [fwd.init("conv.weight", w), fwd.init("conv.bias", b)], 13)
    model.producer_name = "ConvLens make_projection_fixtures.py"
    # Hand computation: conv (3x3) then relu then the 2x2 window at the top left.
    conv = np.array([[x[0, 0, i:i + 2, j:j + 2].ravel() @ w.ravel() + 0.5 for j in range(3)] for i in range(3)])
    assert np.array_equal(conv, [[5.5, 7.5, 16.5], [-11.5, -9.5, 9.5], [-4.5, 5.5, 11.5]]), conv
    relu = np.maximum(conv, 0)
    assert relu[0, 1] == 7.5 and sorted(relu[:2, :2].ravel())[-2] == 5.5  # unique max of the pooled window
    case = Case("handmade", model, x, "projection/handmade/model.onnx")
    case.add_fixed_unit("output", 0, 0, 0, position="argmax")           # max at relu (0,1) = 7.5
    case.add_fixed_unit("relu_out", 0, 2, 2, position="chosen")         # conv 11.5 > 0
    case.add_fixed_unit("relu_out", 0, 1, 0, position="chosen", allow_zero=("guided", "backprop"))  # conv -11.5
    # The projections are the 2x2 weight placed at the unit's window (deconvnet: max(w, 0) = w).
    place = lambda i, j: np.pad(w[0, 0], ((i, 2 - i), (j, 2 - j)))[None, None]  # noqa: E731
    expect = {("output", "deconvnet"): place(0, 1), ("output", "guided"): place(0, 1),
              ("output", "backprop"): place(0, 1),
              ("relu_out@2,2", "deconvnet"): place(2, 2), ("relu_out@2,2", "guided"): place(2, 2),
              ("relu_out@2,2", "backprop"): place(2, 2),
              ("relu_out@1,0", "deconvnet"): place(1, 0), ("relu_out@1,0", "guided"): 0 * place(1, 0),
              ("relu_out@1,0", "backprop"): 0 * place(1, 0)}
    for e, p64, _ in case.entries:
        key = e["tensor"] if e["tensor"] == "output" else f"relu_out@{e['y']},{e['x']}"
        assert np.array_equal(p64, expect[(key, e["rule"])]), (e, p64)
    net = nn.Sequential(nn.Conv2d(1, 1, 2), nn.ReLU(), nn.MaxPool2d(2, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(w))
        net[0].bias.copy_(torch.from_numpy(b))
    captum_check(case, net, {"relu": net[1], "pool": net[2]})
    case.write("Hand-computable model (onnx.helper, opset 13): input [1,1,4,4] = [[1,0,2,1],[0,1,0,3],[2,-5,1,0],"
               "[1,0,2,1]]; Conv 2x2 stride 1, weight [[1,2],[3,4]], bias 0.5 -> [[5.5,7.5,16.5],[-11.5,-9.5,9.5],"
               "[-4.5,5.5,11.5]]; Relu; MaxPool 2x2 stride 2 -> [1,1,1,1] = 7.5 (switch at relu (0,1)). Every "
               "projection is the weight [[1,2],[3,4]] placed at the 2x2 input window of the unit: the MaxPool "
               "unit -> window at (0,1); relu (2,2) -> window at (2,2); relu (1,0) (pre-activation -11.5, "
               "activation 0) -> window at (1,0) for deconvnet and all zeros for guided and backprop.",
               save_model=True)


def verify():
    total = 0
    for case in sorted(os.listdir(OUT)):
        d = os.path.join(OUT, case)
        with open(os.path.join(d, "expected.json")) as f:
            doc = json.load(f)
        x = np.load(os.path.join(d, doc["input"]))
        model = doc["model"]
        mpath = fwd.BUNDLED if model == "bundled:mobilenetv2" else os.path.join(FIX, model)
        assert os.path.exists(mpath), mpath
        for e in doc["projections"]:
            p = np.load(os.path.join(d, e["file"]))
            assert p.dtype == np.float32 and p.shape == x.shape, (case, e)
            assert set(e) <= {"layer", "tensor", "seed", "channel", "y", "x", "position", "activation", "rule",
                              "file"}, e
        files = {e["file"] for e in doc["projections"]} | {"expected.json", doc["input"]}
        if not model.startswith("bundled:") and model.startswith("projection/"):
            files.add("model.onnx")
        assert set(os.listdir(d)) == files, (case, set(os.listdir(d)) ^ files)
        total += sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print(f"total {total / 1024 / 1024:.2f} MiB in {OUT}")
    assert total <= MAX_TOTAL, total


def main():
    os.makedirs(OUT, exist_ok=True)
    case_handmade()
    case_squeeze_excitation()
    case_vgg(True, case_vgg(False))
    case_alexnet()
    case_mobilenetv2()
    verify()
    print("cross-checks:")
    for line in CAPTUM_LOG:
        print("  " + line)


if __name__ == "__main__":
    main()
