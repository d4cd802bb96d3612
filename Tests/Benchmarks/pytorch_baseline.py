"""PyTorch / ONNX Runtime / Captum side of the ConvLens benchmark suite (issue #7).

Runs the workloads of the shared contract (A, B, C, D1, D16, E3, E5, E7, E11, F, F-captum; see
Docs/Benchmarks-PyTorch.md) in one process, prints a table and optionally writes the JSON that
`convlens bench` writes too.

Usage (from anywhere; paths are resolved relative to this file):
    python Tests/Benchmarks/pytorch_baseline.py [--quick] [--json OUT] [--only A,B,...] [--threads T]
                                                [--check]

Timing: one warm-up run, then the median of R runs (R = 5, or 3 with --quick). A run of a projection
workload is the forward pass plus every projection of the workload. Needs only the pinned packages of
Tests/Benchmarks/requirements.txt and no network.
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time

if sys.version_info < (3, 11):
    sys.exit("pytorch_baseline.py needs Python >= 3.11")

# Thread count first: torch.set_num_interop_threads must run before any parallel work.
_parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
_parser.add_argument("--quick", action="store_true", help="small sizes, R = 3")
_parser.add_argument("--json", metavar="OUT", help="write the results as JSON to OUT")
_parser.add_argument("--only", metavar="IDS", help="comma-separated workload ids (e.g. A,E7,F-captum)")
_parser.add_argument("--threads", type=int, metavar="T",
                     help="thread count (default: env CONVLENS_THREADS, else os.cpu_count())")
_parser.add_argument("--zoo", metavar="DIR",
                     help="the whole-job workloads' models (Tests/Benchmarks/export_job_models.py; "
                          "default .build/bench/zoo)")
_parser.add_argument("--check", action="store_true",
                     help="before timing, check that every method computes the same projections "
                          "(and Captum the same as F's per-seed) on a few seeds")
ARGS = _parser.parse_args()


def _thread_count():
    if ARGS.threads is not None:
        return ARGS.threads
    env = os.environ.get("CONVLENS_THREADS", "").strip()
    if env:
        return int(env)
    return os.cpu_count() or 1


THREADS = _thread_count()
if THREADS < 1:
    sys.exit("thread count must be >= 1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(THREADS)
torch.set_num_interop_threads(1)

import captum  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torchvision  # noqa: E402
import warnings  # noqa: E402

# Captum warns on every call that it sets requires_grad on the input and hooks the ReLUs.
warnings.filterwarnings("ignore", category=UserWarning, module=r"captum\..*")
from torch import nn  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ONNX_MODEL = os.path.join(REPO, "Sources", "ConvLens", "Resources", "models", "mobilenetv2.onnx")

QUICK = ARGS.quick
RUNS = 3 if QUICK else 5
ALL_IDS = ["A", "B", "C", "D1", "D16", "E3", "E5", "E7", "E11", "F", "F-captum", "O", "M1", "M16",
           "JR50", "JD121", "JEB0", "JMV2"]
ZOO = ARGS.zoo or os.path.join(REPO, ".build", "bench", "zoo")
# Whole jobs: channels 0..n-1 of the probed block (None: every channel), the Captum loop's sample.
J_CHANNELS = {"JR50": 32 if QUICK else None, "JD121": 32 if QUICK else None, "JEB0": None,
              "JMV2": 64 if QUICK else None}
J_CAPTUM_SAMPLE = 4 if QUICK else 8

# Workload sizes (the contract's "full" and "quick" columns).
A_CHANNELS = 64 if QUICK else 192
B_IMAGES = 16 if QUICK else 64
C_CHANNELS = 48 if QUICK else 160
E_BATCH = 8 if QUICK else 16
F_CHANNELS = 32 if QUICK else 512
F_CAPTUM_SAMPLE = 2 if QUICK else 4
# F does not fit the time budget at full size on 2 cores (one VGG16 data-gradient pass to conv5_3 is
# ~1.3 s there, a forward ~1.4 s): its per-seed method runs a sample of seeds and is extrapolated;
# batched-16 runs one chunk of 16 and is extrapolated (full only); batched-64 is not run.
F_PER_SEED_SAMPLE = 4 if QUICK else 16
F_BATCHED = [] if QUICK else [16]
BATCH_SIZES = [16, 64]


# ----------------------------------------------------------------------------------------------
# Rules: ReLU / ReLU6 replaced by autograd Functions.

class _DeconvReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        return grad.clamp(min=0)


class _DeconvReLU6(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clamp(0, 6)

    @staticmethod
    def backward(ctx, grad):
        return grad.clamp(min=0)


class _GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x > 0)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad.clamp(min=0) * mask


class _GuidedReLU6(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward((x > 0) & (x < 6))
        return x.clamp(0, 6)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad.clamp(min=0) * mask


_RULES = {("deconvnet", "relu"): _DeconvReLU, ("deconvnet", "relu6"): _DeconvReLU6,
          ("guided", "relu"): _GuidedReLU, ("guided", "relu6"): _GuidedReLU6}


class RuleActivation(nn.Module):
    def __init__(self, rule, kind):
        super().__init__()
        self.rule, self.kind = rule, kind
        self.fn = _RULES[(rule, kind)]

    def forward(self, x):
        return self.fn.apply(x)

    def extra_repr(self):
        return f"{self.kind}, rule={self.rule}"


def replace_activations(module, rule):
    """Replaces every nn.ReLU / nn.ReLU6 below `module` by a RuleActivation (in place)."""
    for name, child in module.named_children():
        if isinstance(child, nn.ReLU6):  # ReLU6 derives from Hardtanh, not ReLU
            setattr(module, name, RuleActivation(rule, "relu6"))
        elif isinstance(child, nn.ReLU):
            setattr(module, name, RuleActivation(rule, "relu"))
        else:
            replace_activations(child, rule)
    return module


def plain_relus(module):
    """Sets inplace=False on every nn.ReLU / nn.ReLU6 (the Captum model keeps nn.ReLU)."""
    for m in module.modules():
        if isinstance(m, (nn.ReLU, nn.ReLU6)):
            m.inplace = False
    return module


# ----------------------------------------------------------------------------------------------
# Models: deterministic He-normal weights (std sqrt(2 / fan_in)), biases 0.01, eval mode, frozen.

def he_init(model, seed):
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()  # (in / groups) * kh * kw, or in_features
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.fill_(0.01)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def model_A():
    return he_init(torchvision.models.alexnet(weights=None).features[:5], seed=1001)  # ... features[4] (ReLU after conv2)


def model_B():
    m = nn.Sequential(
        nn.Conv2d(3, 64, 5, padding=2), nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.LocalResponseNorm(size=9, alpha=0.001, beta=0.75, k=1.0),
        nn.Conv2d(64, 64, 5, padding=2), nn.ReLU())
    return he_init(m, seed=1002)


def model_C():
    return he_init(torchvision.models.mobilenet_v2(weights=None).features[:17], seed=1003)  # ... features[16]


def model_D_torch():
    return he_init(torchvision.models.mobilenet_v2(weights=None), seed=1004)


def model_F():
    return he_init(torchvision.models.vgg16(weights=None).features[:30], seed=1006)  # ... features[29]


def random_images(n, size, seed):
    return torch.randn((n, 3, size, size), generator=torch.Generator().manual_seed(seed))


def conv_flops(model, x):
    """2·MACs of every nn.Conv2d and nn.Linear in one forward pass of `x` (forward hooks)."""
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            total[0] += 2 * out.numel() * m.weight[0].numel()
        else:
            total[0] += 2 * out.numel() * m.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total[0]


# ----------------------------------------------------------------------------------------------
# Measurement helpers.

def clear_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def timed_median(run, self_timed=False):
    """One warm-up call, then the median of RUNS calls. With self_timed, `run()` returns its own
    (possibly extrapolated) seconds; otherwise the call is timed from outside."""
    def once():
        t0 = time.perf_counter()
        s = run()
        return s if self_timed else time.perf_counter() - t0
    once()
    return statistics.median([once() for _ in range(RUNS)])


def evenly_spaced(items, k):
    if k >= len(items):
        return list(items)
    idx = np.linspace(0, len(items) - 1, k).round().astype(int)
    return [items[i] for i in idx]


def argmax_yx(maps):
    """maps [n, H, W] -> (y, x) of each map's first maximum in row-major order."""
    w = maps.shape[-1]
    flat = maps.reshape(maps.shape[0], -1).argmax(dim=1)
    return flat // w, flat % w


# ----------------------------------------------------------------------------------------------
# Projection methods. `images` [I, 3, H, W]; the seeds are every (image, channel) pair of
# `channels`, unit seeds at the argmax of the channel's map; `out` [I * len(channels), 3, H, W]
# receives every projection (seed i = image i // len(channels), channel channels[i % len]).

def per_seed(model, images, channels, out, sample=None):
    """One forward pass per image, then one autograd.grad per seed. With `sample` (k seeds per
    image) only k evenly spaced channels are projected and the seed loop time is scaled by
    len(channels) / k; the forward is counted once per image. Returns the seconds of the run."""
    nch = len(channels)
    todo = list(range(nch)) if sample is None else evenly_spaced(list(range(nch)), sample)
    scale = nch / len(todo)
    chan = torch.tensor(channels)
    seconds = 0.0
    for im in range(images.shape[0]):
        t0 = time.perf_counter()
        x = images[im:im + 1].clone().requires_grad_()
        act = model(x)
        ys, xs = (t.tolist() for t in argmax_yx(act[0, chan].detach()))
        onehot = torch.zeros_like(act)
        t1 = time.perf_counter()
        for j in todo:
            c, y, xx = channels[j], ys[j], xs[j]
            onehot[0, c, y, xx] = 1.0
            (g,) = torch.autograd.grad(act, x, grad_outputs=onehot, retain_graph=True)
            onehot[0, c, y, xx] = 0.0
            out[im * nch + j].copy_(g[0])
        t2 = time.perf_counter()
        del act
        seconds += (t1 - t0) + (t2 - t1) * scale
    return seconds


def batched(model, images, channels, out, n, sample_chunks=None):
    """The (image, channel) pairs in chunks of n: the chunk's images stacked (one copy per seed),
    one forward pass, one backward with a one-hot grad_output per item. With `sample_chunks`, only
    that many evenly spaced chunks are run and the time is scaled to all chunks."""
    nch = len(channels)
    pairs = [(im, c) for im in range(images.shape[0]) for c in channels]
    chunks = [list(range(s, min(s + n, len(pairs)))) for s in range(0, len(pairs), n)]
    todo = chunks if sample_chunks is None else evenly_spaced(chunks, sample_chunks)
    t0 = time.perf_counter()
    for chunk in todo:
        im_idx = torch.tensor([pairs[i][0] for i in chunk])
        ch_idx = torch.tensor([pairs[i][1] for i in chunk])
        item = torch.arange(len(chunk))
        x = images[im_idx].requires_grad_()  # advanced indexing: a fresh leaf tensor
        act = model(x)
        ys, xs = argmax_yx(act.detach()[item, ch_idx])
        onehot = torch.zeros_like(act)
        onehot[item, ch_idx, ys, xs] = 1.0
        (g,) = torch.autograd.grad(act, x, grad_outputs=onehot)
        out[chunk[0]:chunk[-1] + 1].copy_(g)
        del act, g
    seconds = time.perf_counter() - t0
    return seconds * len(chunks) / len(todo)


# ----------------------------------------------------------------------------------------------
# Workloads. Each returns the JSON record (without peak_rss_bytes).

def record(wid, methods, best, seeds, flops, note="", runs=None):
    seconds = methods[best]
    return {"id": wid, "seconds": seconds, "method": best, "methods": methods,
            "runs": RUNS if runs is None else runs, "seeds": seeds, "flops": flops,
            "gflops": flops / seconds / 1e9 if seconds > 0 and flops > 0 else None, "note": note}


def projection_workload(wid, model, images, channels, note="", per_seed_sample=None,
                        batch_sizes=BATCH_SIZES, batch_sample_chunks=None):
    n_seeds = images.shape[0] * len(channels)
    fwd = conv_flops(model, images[:1])  # every conv lies between the seeded layer and the input,
    flops = images.shape[0] * fwd + n_seeds * fwd  # and its data gradient costs what its forward does
    out = torch.empty((n_seeds,) + tuple(images.shape[1:]))
    methods = {"per-seed": timed_median(lambda: per_seed(model, images, channels, out, per_seed_sample), True)}
    for n in batch_sizes:
        methods[f"batched-{n}"] = timed_median(
            lambda: batched(model, images, channels, out, n, batch_sample_chunks), True)
    best = min(methods, key=methods.get)
    return record(wid, methods, best, n_seeds, flops, note)


def workload_A():
    return projection_workload("A", replace_activations(model_A(), "deconvnet"),
                               random_images(1, 224, 2001), list(range(A_CHANNELS)),
                               note="deconvnet; seeded features[4] (ReLU after conv2)")


def workload_B():
    return projection_workload("B", replace_activations(model_B(), "deconvnet"),
                               random_images(B_IMAGES, 32, 2002), list(range(64)),
                               note=f"deconvnet; {B_IMAGES} images x 64 channels; per-seed: one "
                                    "forward per image")


def workload_C():
    return projection_workload("C", replace_activations(model_C(), "guided"),
                               random_images(1, 224, 2003), list(range(C_CHANNELS)),
                               note="guided ReLU6; seeded features[16] output (BN not folded)")


def workload_F():
    parts = [f"deconvnet; seeded features[29]; per-seed: forward + {F_PER_SEED_SAMPLE} evenly spaced "
             f"seeds timed, seed loop extrapolated to {F_CHANNELS}"]
    if F_BATCHED:
        parts.append("; ".join(f"batched-{n}: 1 chunk of {n} timed, extrapolated to "
                               f"{math.ceil(F_CHANNELS / n)} chunks" for n in F_BATCHED))
    skipped = [f"batched-{n}" for n in BATCH_SIZES if n not in F_BATCHED]
    if skipped:
        parts.append(f"{', '.join(skipped)} not run (time budget)")
    return projection_workload("F", replace_activations(model_F(), "deconvnet"),
                               random_images(1, 224, 2006), list(range(F_CHANNELS)),
                               note="; ".join(parts), per_seed_sample=F_PER_SEED_SAMPLE,
                               batch_sizes=F_BATCHED, batch_sample_chunks=1)


def workload_F_captum():
    from captum.attr import NeuronDeconvolution
    model = plain_relus(model_F())  # same seed as F: same weights, plain nn.ReLU(inplace=False)
    x = random_images(1, 224, 2006)
    with torch.no_grad():
        act = model(x)
    channels = evenly_spaced(list(range(F_CHANNELS)), F_CAPTUM_SAMPLE)
    ys, xs = argmax_yx(act[0, channels])
    attr = NeuronDeconvolution(model, layer=model[29])
    out = torch.empty((len(channels),) + tuple(x.shape[1:]))

    def run():
        t0 = time.perf_counter()
        for j, c in enumerate(channels):
            a = attr.attribute(x, neuron_selector=(c, int(ys[j]), int(xs[j])))
            out[j].copy_(a[0])
        return (time.perf_counter() - t0) / len(channels) * F_CHANNELS

    seconds = timed_median(run, True)
    flops = conv_flops(model, x) * (1 + F_CHANNELS)
    return record("F-captum", {"captum": seconds}, "captum", F_CHANNELS, flops,
                  note=f"captum.attr.NeuronDeconvolution, one call per channel; extrapolated from "
                       f"{len(channels)} channels ({channels}) to {F_CHANNELS}: mean seconds per call "
                       f"x {F_CHANNELS}; argmax positions from an untimed forward")


def _ort_session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def _batch_variant(path, batch, tmpdir):
    """The model itself when its batch dim already fits; else a copy with input/output dim 0 set
    to `batch` (and any Reshape shape constant with a hard-coded leading 1 set to `batch`)."""
    m = onnx.load(path)
    dims = [i.type.tensor_type.shape.dim[0] for i in m.graph.input]
    if all(d.HasField("dim_param") or d.dim_value == batch for d in dims):
        return path
    for v in list(m.graph.input) + list(m.graph.output):
        d = v.type.tensor_type.shape.dim[0]
        d.Clear()
        d.dim_value = batch
    del m.graph.value_info[:]  # shapes inferred for batch 1 would be stale
    consts = {}
    for node in m.graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = node
    inits = {t.name: t for t in m.graph.initializer}
    for node in m.graph.node:
        if node.op_type != "Reshape":
            continue
        name = node.input[1]
        tensor = inits.get(name)
        if tensor is None and name in consts:
            tensor = next(a.t for a in consts[name].attribute if a.name == "value")
        if tensor is None:
            continue  # computed shape (Shape → Gather → Concat): follows the batch by itself
        shape = onnx.numpy_helper.to_array(tensor)
        if shape.size and shape[0] == 1:
            shape = shape.copy()
            shape[0] = batch
            tensor.CopyFrom(onnx.numpy_helper.from_array(shape, tensor.name))
    onnx.checker.check_model(m)
    out = os.path.join(tmpdir, f"mobilenetv2_b{batch}.onnx")
    onnx.save(m, out)
    return out


def workload_D(batch):
    wid = f"D{batch}"
    x = random_images(batch, 224, 2004)
    torch_model = model_D_torch()
    flops = conv_flops(torch_model, x[:1]) * batch
    with tempfile.TemporaryDirectory() as tmp:
        path = _batch_variant(ONNX_MODEL, batch, tmp)
        sess = _ort_session(path)
        inp = sess.get_inputs()[0].name
        feed = {inp: x.numpy()}
        y = sess.run(None, feed)[0]
        if y.shape[0] != batch:
            raise RuntimeError(f"{wid}: ONNX Runtime returned shape {y.shape} for batch {batch}")
        if batch > 1:  # the batch variant computes what the batch-1 model does, image by image
            y1 = _ort_session(ONNX_MODEL).run(None, {inp: x[:1].numpy()})[0]
            if not np.allclose(y[:1], y1, rtol=1e-4, atol=1e-4 * float(np.abs(y1).max())):
                raise RuntimeError(f"{wid}: batch variant disagrees with the bundled model")
        ort_s = timed_median(lambda: sess.run(None, feed))
    with torch.no_grad():
        eager_s = timed_median(lambda: torch_model(x))
    note = ("seconds/method: ONNX Runtime on the bundled .onnx"
            + (f" (batch dim set to {batch} in a temp copy)" if batch > 1 else "")
            + f", intra_op={THREADS}, inter_op=1, sequential; torch-eager: torchvision mobilenet_v2 "
              "(random weights, BN not folded), eval, no_grad")
    return record(wid, {"onnxruntime": ort_s, "torch-eager": eager_s}, "onnxruntime", 0, flops, note)


def workload_E(k):
    gen = torch.Generator().manual_seed(2005)
    x = torch.randn((E_BATCH, 128, 56, 56), generator=gen)
    w = torch.randn((128, 128, k, k), generator=gen) * math.sqrt(2.0 / (128 * k * k))
    res = [None]

    def run():
        with torch.no_grad():
            res[0] = torch.nn.functional.conv_transpose2d(x, w, padding=k // 2)

    seconds = timed_median(run)
    assert res[0].shape == (E_BATCH, 128, 56, 56)
    flops = 2 * E_BATCH * 128 * 128 * k * k * 56 * 56
    return record(f"E{k}", {"conv_transpose2d": seconds}, "conv_transpose2d", 0, flops,
                  note=f"batch {E_BATCH}, 128->128, 56x56, stride 1, pad {k // 2}, no bias")


def workload_O():
    """Captum's Occlusion on torchvision's MobileNetV2 (random weights), a 32-pixel window over all
    channels, class 0's softmax probability; the best of perturbations_per_eval 1 and 16."""
    from captum.attr import Occlusion
    model = model_D_torch().eval()
    x = random_images(1, 224, 2007)
    stride = 32 if QUICK else 16
    positions = (math.ceil((224 - 32) / stride) + 1) ** 2
    occ = Occlusion(lambda inp: torch.softmax(model(inp), dim=1))
    methods = {}
    for ppe in (1, 16):
        def run():
            with torch.no_grad():
                occ.attribute(x, sliding_window_shapes=(3, 32, 32), strides=(3, stride, stride), baselines=0,
                              target=0, perturbations_per_eval=ppe)
        methods[f"captum-ppe{ppe}"] = timed_median(run)
    best = min(methods, key=methods.get)
    flops = (1 + positions) * conv_flops(model, x)
    return record("O", methods, best, positions, flops,
                  note=f"captum.attr.Occlusion, window 32, stride {stride} ({positions} positions), baseline 0, "
                       f"softmax probability of class 0; perturbations_per_eval 1 and 16")


def workload_M(n):
    """Lucent's render_vis on torchvision's MobileNetV2 (random weights): fft_image with decorrelated
    colour, the standard transforms, Adam lr 0.05, the mean of channels 0..n-1 of features.3.conv.0.0
    (one image per channel, one batch)."""
    from lucent.optvis import objectives, param, render
    model = model_D_torch().eval()
    steps = (16 if n == 1 else 8) if QUICK else 512
    objective = objectives.channel("features_3_conv_0_0", 0, batch=0) if n == 1 else \
        sum(objectives.channel("features_3_conv_0_0", c, batch=c) for c in range(n))

    def run():
        render.render_vis(model, objective, param_f=lambda: param.image(224, batch=n, fft=True, decorrelate=True),
                          thresholds=(steps,), show_image=False, progress=False)

    seconds = timed_median(run)
    layer_flops = conv_flops(model.features[:4], random_images(1, 224, 2008))
    return record(f"M{n}", {"lucent": seconds}, "lucent", n, 2 * steps * n * layer_flops,
                  note=f"lucent.optvis.render.render_vis, {steps} steps, {n} channel(s) as one batch, fft + decorrelate, "
                       f"standard transforms, Adam lr 0.05")


def _job_spec(wid):
    path = os.path.join(ZOO, "jobs.json")
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: run Tests/Benchmarks/export_job_models.py {ZOO} first (make bench does)")
    with open(path) as f:
        return json.load(f)[wid]


def _job_model(spec):
    """The user's first steps: build the architecture, load the weights, read the input."""
    net = getattr(torchvision.models, spec["architecture"])()
    net.load_state_dict(torch.load(os.path.join(ZOO, spec["weights"])))
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    x = torch.from_numpy(np.load(os.path.join(ZOO, spec["input"])))
    return net, x


def _up_to(net, module):
    """The network up to and including `module`, as nn.Sequential: at every level of the module
    path, the children before the named one, then the named one cut the same way. This is the
    forward pass where the models run their children in order (torchvision's ResNet, DenseNet,
    EfficientNet and MobileNetV2 do), and inside a residual block up to a point before its sum
    (MobileNetV2's `features.10.conv.0`)."""
    first, _, rest = module.partition(".")
    mods = []
    for name, child in net.named_children():
        if name == first:
            mods.append(_up_to(child, rest) if rest else child)
            return nn.Sequential(*mods)
        mods.append(child)
    raise ValueError(module)


def workload_J(wid):
    """A whole job as a PyTorch user writes it (Docs/Performance.md "Whole jobs"): build the
    torchvision model, load its weights (torch.load), read the input (.npy), deconvnet projections
    of unit seeds at the argmax of channels 0..n-1 of a block's output, the stack saved with
    np.save. Methods: the network truncated after the block with its ReLUs replaced by the deconvnet
    rule, then a retained graph (one autograd.grad per seed) or replicated batches of 16 / 64;
    and Captum's NeuronDeconvolution per seed on the whole model (a sample of seeds, the loop
    extrapolated). Interpreter start and `import torch` are not timed (ConvLens's process start is)."""
    from captum.attr import NeuronDeconvolution
    spec = _job_spec(wid)
    n = J_CHANNELS[wid] or spec["channels"]
    channels = list(range(n))
    save_to = os.path.join(ZOO, f"{wid}.torch.npy")
    methods = {}

    def job(method):
        t0 = time.perf_counter()
        net, x = _job_model(spec)
        out = torch.empty((n,) + tuple(x.shape[1:]))
        if method == "captum":
            plain_relus(net)
            trunc = _up_to(net, spec["module"])
            with torch.no_grad():
                act = trunc(x)
            ys, xs = (t.tolist() for t in argmax_yx(act[0, channels]))
            sample = evenly_spaced(channels, J_CAPTUM_SAMPLE)
            attr = NeuronDeconvolution(net, net.get_submodule(spec["module"]))
            t1 = time.perf_counter()
            for c in sample:
                out[c].copy_(attr.attribute(x, neuron_selector=(c, ys[c], xs[c]))[0])
            loop = time.perf_counter() - t1
            t2 = time.perf_counter()
            np.save(save_to + ".captum.npy", out.numpy())
            os.remove(save_to + ".captum.npy")
            return (t1 - t0) + loop * n / len(sample) + (time.perf_counter() - t2), sample, out
        trunc = replace_activations(_up_to(net, spec["module"]), "deconvnet")
        if method == "retained":
            per_seed(trunc, x, channels, out)
        else:
            batched(trunc, x, channels, out, int(method.split("-")[1]))
        np.save(save_to, out.numpy())
        return time.perf_counter() - t0, None, out

    for method in ["retained"] + [f"batched-{b}" for b in BATCH_SIZES if b <= max(16, n)]:
        methods[method] = timed_median(lambda: job(method)[0], True)
    reference = torch.from_numpy(np.load(save_to))
    methods["captum-loop"] = timed_median(lambda: job("captum")[0], True)
    _, sample, captum_out = job("captum")
    agree = max(_rel(captum_out[c], reference[c]) for c in sample)
    best = min((m for m in methods), key=methods.get)
    # Rerun the best non-Captum method last, so the saved stack is its output.
    job(best if best != "captum-loop" else "retained")
    return record(wid, methods, best, n, 0.0,
                  note=f"{spec['architecture']} {spec['module']} ({spec['layer']}), deconvnet, {n} of "
                       f"{spec['channels']} channels; load + forward + projections + np.save; Captum's "
                       f"NeuronDeconvolution on {len(sample)} seeds, loop extrapolated; Captum vs "
                       f"{best if best != 'captum-loop' else 'retained'}: rel L2 {agree:.1e}"
                       + (" (Captum gives the rule to nn.ReLU only, not ReLU6: not the same projection)"
                          if agree > 1e-3 else ""))


WORKLOADS = {"A": workload_A, "B": workload_B, "C": workload_C,
             "D1": lambda: workload_D(1), "D16": lambda: workload_D(16),
             "E3": lambda: workload_E(3), "E5": lambda: workload_E(5),
             "E7": lambda: workload_E(7), "E11": lambda: workload_E(11),
             "F": workload_F, "F-captum": workload_F_captum, "O": workload_O,
             "M1": lambda: workload_M(1), "M16": lambda: workload_M(16),
             "JR50": lambda: workload_J("JR50"), "JD121": lambda: workload_J("JD121"),
             "JEB0": lambda: workload_J("JEB0"), "JMV2": lambda: workload_J("JMV2")}


# ----------------------------------------------------------------------------------------------
# --check: the methods agree (not timed).

def _rel(a, b):
    return float((a - b).norm() / max(float(b.norm()), 1e-30))


def run_checks(ids):
    def methods_agree(name, model, images, channels):
        n = images.shape[0] * len(channels)
        ref = torch.empty((n,) + tuple(images.shape[1:]))
        per_seed(model, images, channels, ref)
        for bs in (3, 16):
            got = torch.empty_like(ref)
            batched(model, images, channels, got, bs)
            err = _rel(got, ref)
            print(f"check {name}: batched-{bs} vs per-seed rel L2 {err:.2e}", flush=True)
            if err > 1e-4:
                raise SystemExit(f"check {name} failed")
        if float(ref.abs().amax(dim=(1, 2, 3)).min()) == 0:
            raise SystemExit(f"check {name}: an all-zero projection")

    if "A" in ids:
        methods_agree("A", replace_activations(model_A(), "deconvnet"), random_images(1, 224, 2001),
                      [0, 5, 77, 191])
    if "B" in ids:
        methods_agree("B", replace_activations(model_B(), "deconvnet"), random_images(3, 32, 2002),
                      [0, 1, 63])
    if "C" in ids:
        methods_agree("C", replace_activations(model_C(), "guided"), random_images(1, 224, 2003),
                      [0, 100, 159])
    if "F" in ids or "F-captum" in ids:
        from captum.attr import NeuronDeconvolution
        x = random_images(1, 224, 2006)
        model = replace_activations(model_F(), "deconvnet")
        ref = torch.empty((2,) + tuple(x.shape[1:]))
        per_seed(model, x, [0, 300], ref)
        got = torch.empty_like(ref)
        batched(model, x, [0, 300], got, 2)
        print(f"check F: batched-2 vs per-seed rel L2 {_rel(got, ref):.2e}", flush=True)
        cap = plain_relus(model_F())
        with torch.no_grad():
            act = cap(x)
        ys, xs = argmax_yx(act[0, [0, 300]])
        attr = NeuronDeconvolution(cap, layer=cap[29])
        for j, c in enumerate([0, 300]):
            a = attr.attribute(x, neuron_selector=(c, int(ys[j]), int(xs[j])))
            err = _rel(a[0], ref[j])
            print(f"check F: captum vs per-seed channel {c} rel L2 {err:.2e}", flush=True)
            if err > 1e-4:
                raise SystemExit("check F-captum failed")


# ----------------------------------------------------------------------------------------------

def versions():
    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "captum": captum.__version__,
            "onnx": onnx.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__}


def fmt_rss(b):
    return "-" if b is None else f"{b / 2**20:.0f} MiB"


def main():
    ids = ALL_IDS
    if ARGS.only:
        ids = [s.strip() for s in ARGS.only.split(",") if s.strip()]
        bad = [s for s in ids if s not in WORKLOADS]
        if bad:
            sys.exit(f"unknown workload id(s) {bad}; known: {','.join(ALL_IDS)}")
        ids = [i for i in ALL_IDS if i in ids]
    print(f"pytorch_baseline: {'quick' if QUICK else 'full'}, threads {THREADS}, R = {RUNS}, "
          f"torch {torch.__version__}, onnxruntime {ort.__version__}, captum {captum.__version__}",
          flush=True)
    t_start = time.perf_counter()
    if ARGS.check:
        run_checks(ids)
    results = []
    for wid in ids:
        t0 = time.perf_counter()
        clear_peak_rss()
        rec = WORKLOADS[wid]()
        rec["peak_rss_bytes"] = peak_rss_bytes()
        results.append(rec)
        print(f"  {wid}: {rec['seconds']:.4f} s ({rec['method']}; "
              + ", ".join(f"{m} {v:.4f}" for m, v in rec["methods"].items())
              + f"), workload took {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    total = time.perf_counter() - t_start

    print()
    print(f"{'id':<9} {'method':<17} {'median s':>10} {'GFLOP/s':>8} {'peak RSS':>9}  all methods (median s)")
    for r in results:
        others = ", ".join(f"{m} {s:.4f}" for m, s in r["methods"].items())
        gf = "-" if r["gflops"] is None else f"{r['gflops']:.1f}"
        print(f"{r['id']:<9} {r['method']:<17} {r['seconds']:>10.4f} {gf:>8} "
              f"{fmt_rss(r['peak_rss_bytes']):>9}  {others}")
    for r in results:
        if r["note"]:
            print(f"  {r['id']}: {r['note']}")
    print(f"total wall time {total:.1f} s")

    if ARGS.json:
        doc = {"tool": "pytorch", "versions": versions(), "threads": THREADS, "quick": QUICK,
               "machine_peak_gflops": None, "workloads": results}
        out_dir = os.path.dirname(os.path.abspath(ARGS.json))
        os.makedirs(out_dir, exist_ok=True)
        tmp = ARGS.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.replace(tmp, ARGS.json)
        print(f"wrote {ARGS.json}")


if __name__ == "__main__":
    main()
