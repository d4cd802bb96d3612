"""Projection references for the Keras fixture models (Tests/Fixtures/keras/{seq,func}.keras).

Keras 3 itself runs the models, on its PyTorch backend in float64, so the graph semantics are
Keras's own; PyTorch autograd computes the backward pass, with the rectifiers (relu, relu6,
ReLU(max_value), leaky_relu) replaced by autograd functions implementing DESIGN.md §1's rule
table. Everything else takes its true gradient. Writes Tests/Fixtures/keras_projection/.

A unit is kept only if its projection is stable under fp32 rounding of the forward masks: the same
projection with the masks taken from a float32 run must agree within 1e-6 relative L2. Projections
that vanish up to rounding are left out, and so are deconvnet seeds whose path crosses a global max
pooling of ReLU6-saturated values (torch splits ties, DESIGN.md routes to the first maximum).

Run from the repository root (the reference venv plus keras==3.15.1, h5py==3.16.0):
    KERAS_BACKEND=torch .venv-ref/bin/python Tests/ReferenceGenerators/make_keras_projection_fixtures.py
"""
import json
import os

os.environ["KERAS_BACKEND"] = "torch"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from keras.src.activations import activations as kact  # noqa: E402
from keras.src.backend.torch import nn as knn  # noqa: E402

torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(__file__), "..", "Fixtures")
OUT = os.path.join(ROOT, "keras_projection")
os.makedirs(OUT, exist_ok=True)

STATE = {"rule": "backprop", "masks": None, "record": None, "k": 0}
# Layers whose backward path crosses GlobalMaxPooling2D of a ReLU6 output (ties at 6).
TIED_MAX_PATHS = {"func": ("logits",)}


class Rectifier(torch.autograd.Function):
    """max(x·slope, x) clipped at `hi`, with the rule table's backward."""

    @staticmethod
    def forward(ctx, x, slope, hi, mask_source):
        y = torch.where(x > 0, x, slope * x)
        if hi is not None:
            y = y.clamp(max=hi)
        inside = (mask_source > 0) if hi is None else (mask_source > 0) & (mask_source < hi)
        ctx.save_for_backward(inside)
        ctx.slope = slope
        return y

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved_tensors
        rule = STATE["rule"]
        if rule == "deconvnet":
            return g.clamp(min=0), None, None, None
        if rule == "guided":
            return g.clamp(min=0) * inside, None, None, None
        return g * torch.where(inside, torch.ones_like(g), torch.full_like(g, ctx.slope)), None, None, None


def rectify(x, slope=0.0, hi=None):
    # The masks come from this run's forward input, or from a recorded float32 run.
    k = STATE["k"]
    STATE["k"] += 1
    if STATE["record"] is not None:
        STATE["record"].append(x.detach().clone())
    source = STATE["masks"][k].to(x.dtype) if STATE["masks"] is not None else x.detach()
    return Rectifier.apply(x, slope, hi, source)


def relu_static_call(x, negative_slope=0.0, max_value=None, threshold=0.0):
    assert threshold == 0.0
    return rectify(knn.convert_to_tensor(x), float(negative_slope), None if max_value is None else float(max_value))


kact.ReLU.static_call = staticmethod(relu_static_call)
knn.relu = lambda x: rectify(knn.convert_to_tensor(x))
knn.relu6 = lambda x: rectify(knn.convert_to_tensor(x), 0.0, 6.0)
knn.leaky_relu = lambda x, negative_slope=0.2: rectify(knn.convert_to_tensor(x), float(negative_slope))


def retyped(model, dtype):
    """The same model with every layer computing in `dtype`."""
    cfg = json.loads(model.to_json())

    def walk(o):
        if isinstance(o, dict):
            if o.get("class_name") == "DTypePolicy":
                o["config"]["name"] = dtype
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(cfg)
    m = keras.models.model_from_json(json.dumps(cfg))
    m.set_weights([w.astype(dtype) for w in model.get_weights()])
    return m


def nhwc(a):
    return np.transpose(a, (0, 2, 3, 1))


def nchw(a):
    return np.transpose(a, (0, 3, 1, 2))


def project(model, folded, x_nhwc, layer, channel, pos, seed_kind, rule, masks=None, record=None):
    """d(seed·layer)/d(input after the folded preprocessing layer), NCHW."""
    STATE.update(rule=rule, masks=masks, record=record, k=0)
    probe = keras.Model(model.inputs, [model.get_layer(folded).output, model.get_layer(layer).output])
    x = torch.tensor(x_nhwc, requires_grad=True)
    pre, act = probe(x)
    seed = torch.zeros_like(act)
    if act.ndim == 2:
        seed[0, channel] = 1.0 if seed_kind == "unit" else act[0, channel].detach()
    elif seed_kind == "unit":
        seed[0, pos[0], pos[1], channel] = 1.0
    else:
        seed[0, :, :, channel] = act[0, :, :, channel].detach()
    (gx,) = torch.autograd.grad(act, x, grad_outputs=seed)
    return gx.detach().numpy(), act.detach().numpy(), pre.detach().numpy()


def evaluate(model, layer, x):
    with torch.no_grad():
        return keras.Model(model.inputs, model.get_layer(layer).output)(x).detach().numpy()


def main():
    index = json.load(open(os.path.join(ROOT, "keras", "index.json")))
    folded = {"seq": None, "func": None}
    cases = []
    rng = np.random.default_rng(7)
    for entry in index["models"]:
        name = entry["model"]
        m32 = keras.saving.load_model(os.path.join(ROOT, "keras", f"{name}.keras"))
        m64 = retyped(m32, "float64")
        first = [l for l in m32.layers if not isinstance(l, keras.layers.InputLayer)][0]
        fold = first.name if first.__class__.__name__ in ("Rescaling", "Normalization") else None
        assert fold, "both fixture models start with a preprocessing layer"
        pre_in = np.load(os.path.join(ROOT, "keras", entry["input"]))  # NCHW, after `fold`
        # Recover the raw input: pre = a·x + b per channel.
        zero = np.zeros((1,) + tuple(m64.inputs[0].shape[1:]), np.float64)
        b = evaluate(m64, fold, zero).reshape(-1, zero.shape[-1])[0]
        a = evaluate(m64, fold, zero + 1.0).reshape(-1, zero.shape[-1])[0] - b
        x = (nhwc(pre_in.astype(np.float64)) - b) / a
        layers = {"seq": ["conv1", "pool1", "conv2", "fc"], "func": ["r1", "add", "lrelu", "mul", "r6", "logits"]}[name]
        for layer in layers:
            STATE.update(masks=None, record=None, k=0)
            act = evaluate(m64, layer, x)
            channels = act.shape[-1]
            picks = []
            for c in list(rng.permutation(channels))[:3]:
                c = int(c)
                if act.ndim == 2:
                    picks.append(("unit", c, None, "argmax"))
                    continue
                amap = act[0, :, :, c]
                flat = np.argmax(np.asarray(amap, np.float32).reshape(-1))
                picks.append(("unit", c, (int(flat // amap.shape[1]), int(flat % amap.shape[1])), "argmax"))
                picks.append(("unit", c, (int(rng.integers(amap.shape[0])), int(rng.integers(amap.shape[1]))), "chosen"))
                picks.append(("map", c, None, None))
            for kind, c, pos, how in picks:
                for rule in ("deconvnet", "guided", "backprop"):
                    rec = []
                    g64, act64, _ = project(m64, fold, x, layer, c, pos, kind, rule, record=rec)
                    # The same projection with masks from a float32 forward run.
                    rec32 = []
                    project(m32, fold, x.astype(np.float32), layer, c, pos, kind, rule, record=rec32)
                    g_f32masks, _, _ = project(m64, fold, x, layer, c, pos, kind, rule, masks=rec32)
                    ref = g64 * (1.0 / a)  # d/d(pre) = d/dx · dx/dpre
                    alt = g_f32masks * (1.0 / a)
                    denom = max(np.linalg.norm(ref), 1e-30)
                    if np.linalg.norm(ref - alt) / denom > 1e-6:
                        continue
                    # A projection that is zero up to rounding (a dead or saturated channel) tests nothing.
                    if np.abs(ref).max() < 1e-7:
                        continue
                    # torch's max backward splits the signal among tied maxima, DESIGN.md routes it to
                    # the first: deconvnet (no masks) through GlobalMaxPooling over ReLU6-saturated
                    # ties would differ by construction, so such seeds are left out.
                    if rule == "deconvnet" and layer in TIED_MAX_PATHS.get(name, ()):
                        continue
                    k = len(cases)
                    fname = f"{name}_p{k}.npy"
                    np.save(os.path.join(OUT, fname), nchw(ref).astype(np.float32))
                    item = {"model": f"keras/{name}.keras", "model_h5": f"keras/{name}.h5", "input": f"keras/{entry['input']}",
                            "layer": layer, "seed": kind, "channel": c, "rule": rule, "file": fname}
                    if pos is not None:
                        item.update(y=pos[0], x=pos[1], position=how)
                    cases.append(item)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"generator": "Tests/ReferenceGenerators/make_keras_projection_fixtures.py",
                   "keras": keras.__version__, "torch": torch.__version__, "backend": "torch, float64",
                   "projections": cases}, f, indent=1)
    print("wrote", len(cases), "projections to", OUT)


if __name__ == "__main__":
    main()
