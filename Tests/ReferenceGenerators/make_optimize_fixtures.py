"""Writes the activation-maximization fixtures of issue 17 (Tests/Fixtures/optimize/).

The objective's gradient with respect to the image parameterization, from torch float64 autograd,
for a fixed parameter and fixed transform draws (DESIGN: Docs/Optimize.md):
  parameterizations  pixels: the parameter is the image before decorrelation and the sigmoid;
                     fourier: Lucid/Lucent's fft_image (a spectrum [S, 3, h, w//2+1, 2] scaled by
                     1/max(f, 1/max(h, w)), torch.fft.irfftn(norm="ortho"), divided by 4);
                     both then decorrelate colours (Lucent's matrix) and apply a sigmoid: rgb in (0, 1);
  transforms (in order, each optional): pad p pixels with 0.5; jitter (dy, dx): translate with zeros
                     coming in; scale s: bilinear resize to ceil(s*h) x ceil(s*w), align_corners=True;
                     rotate a degrees about the centre ((w-1)/2, (h-1)/2), bilinear, zeros outside
                     (grid_sample, align_corners=True); a second jitter; then centre crop / pad with
                     0.5 to the model input size;
  model input        (rgb - mean) / std;
  objective          per image i: the mean of channel c_i of the layer, minus tv * TV(rgb_i) minus
                     l2 * mean((rgb_i - 0.5)^2), TV = mean of squared vertical and horizontal
                     differences; the loss is minus the sum over images.
Also the Fourier parameterization's image and its adjoint against NumPy (np.fft.irfft2).
Run from the repository root:  .venv-ref/bin/python Tests/ReferenceGenerators/make_optimize_fixtures.py
"""
import json
import math
import os
import shutil
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(REPO, "Tests", "Fixtures", "optimize")
torch.set_num_threads(1)
warnings.filterwarnings("ignore")

COLOR = np.asarray([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float64)
COLOR = COLOR / np.max(np.linalg.norm(COLOR, axis=0))
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
SIZE = 32


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 12, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.gap(self.relu2(self.conv2(self.pool(self.relu1(self.conv1(x)))))), 1))


def freqs(h, w):
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[: w // 2 + 2] if w % 2 == 1 else np.fft.fftfreq(w)[: w // 2 + 1]
    return np.sqrt(fx * fx + fy * fy)


def fourier_image(spec, h, w):
    scale = torch.tensor(1.0 / np.maximum(freqs(h, w), 1.0 / max(w, h)), dtype=spec.dtype)[None, None, ..., None]
    image = torch.fft.irfftn(torch.view_as_complex((scale * spec).contiguous()), s=(h, w), norm="ortho")
    return image[:, :, :h, :w] / 4.0


def rgb(raw):
    m = torch.tensor(COLOR.T, dtype=raw.dtype)
    return torch.sigmoid(torch.matmul(raw.permute(0, 2, 3, 1), m).permute(0, 3, 1, 2))


def translate(x, dy, dx):
    """Shifts the image down by dy and right by dx pixels (negative: up, left); zeros come in."""
    h, w = x.shape[2:]
    out = torch.zeros_like(x)
    hh, ww = h - abs(dy), w - abs(dx)
    ys, yd = (0, dy) if dy >= 0 else (-dy, 0)
    xs, xd = (0, dx) if dx >= 0 else (-dx, 0)
    out[:, :, yd:yd + hh, xd:xd + ww] = x[:, :, ys:ys + hh, xs:xs + ww]
    return out


def rotate(x, degrees):
    n, c, h, w = x.shape
    a = math.radians(degrees)
    # Output pixel p samples the input at R(-a) (p - centre) + centre, in pixel units; grid_sample's
    # normalized coordinates with align_corners=True map -1..1 to pixel 0..size-1.
    cy, cx = (h - 1) / 2, (w - 1) / 2
    ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype), indexing="ij")
    sx = math.cos(a) * (xs - cx) + math.sin(a) * (ys - cy) + cx
    sy = -math.sin(a) * (xs - cx) + math.cos(a) * (ys - cy) + cy
    grid = torch.stack([sx / (w - 1) * 2 - 1, sy / (h - 1) * 2 - 1], dim=-1)[None].expand(n, h, w, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def fit(x, size):
    """Centre crop or pad with 0.5 to size x size (the crop starts at floor((h - size) / 2))."""
    h, w = x.shape[2:]
    if h < size or w < size:
        py, px = max(0, size - h), max(0, size - w)
        x = F.pad(x, [px // 2, px - px // 2, py // 2, py - py // 2], value=0.5)
        h, w = x.shape[2:]
    top, left = (h - size) // 2, (w - size) // 2
    return x[:, :, top:top + size, left:left + size]


def apply(x, t):
    for kind, arg in t:
        if kind == "pad":
            x = F.pad(x, [arg] * 4, value=0.5)
        elif kind == "jitter":
            x = translate(x, arg[0], arg[1])
        elif kind == "scale":
            size = [int(math.ceil(arg * d)) for d in x.shape[2:]]
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        elif kind == "rotate":
            x = rotate(x, arg)
    return fit(x, SIZE)


TRANSFORMS = {
    "none": [],
    "pad": [("pad", 4)],
    "jitter": [("jitter", (3, -2))],
    "scale": [("scale", 1.1)],
    "scale_down": [("pad", 4), ("scale", 0.9)],
    "rotate": [("rotate", 7.0)],
    "all": [("pad", 4), ("jitter", (3, 1)), ("scale", 1.06), ("rotate", -5.0), ("jitter", (0, 2))],
}


def loss_of(model, param, kind, channels, transform, tv, l2):
    raw = param if kind == "pixels" else fourier_image(param, SIZE, SIZE)
    image = rgb(raw)
    x = apply(image, transform)
    mean = torch.tensor(MEAN, dtype=x.dtype)[None, :, None, None]
    std = torch.tensor(STD, dtype=x.dtype)[None, :, None, None]
    got = {}
    h = model.relu2.register_forward_hook(lambda m, i, o: got.update(o=o))
    model((x - mean) / std)
    h.remove()
    act = got["o"]
    objective = torch.stack([act[i, c].mean() for i, c in enumerate(channels)])
    dy = image[:, :, 1:, :] - image[:, :, :-1, :]
    dx = image[:, :, :, 1:] - image[:, :, :, :-1]
    per = lambda t: t.flatten(1).sum(1) / image[0].numel()
    objective = objective - tv * (per(dy ** 2) + per(dx ** 2)) - l2 * per((image - 0.5) ** 2)
    return -objective.sum(), objective


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    torch.manual_seed(0)
    model = Net().eval()
    path = os.path.join(OUT, "model.onnx")
    torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), path, opset_version=17, input_names=["input"],
                      output_names=["logits"], dynamo=False)
    m = onnx.load(path)
    for k, v in {"convlens.mean": ",".join(map(str, MEAN)), "convlens.std": ",".join(map(str, STD))}.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.save(m, path)
    layer = [n.name for n in m.graph.node if n.op_type == "Relu"][1]
    g = torch.Generator().manual_seed(1)
    channels = [3, 7]
    params = {"pixels": torch.randn(2, 3, SIZE, SIZE, generator=g, dtype=torch.float64) * 0.5,
              "fourier": torch.randn(2, 3, SIZE, SIZE // 2 + 1, 2, generator=g, dtype=torch.float64) * 0.05}
    expected = {"generator": os.path.basename(__file__), "torch": torch.__version__.split("+")[0], "model": "model.onnx",
                "layer": layer, "channels": channels, "size": SIZE, "tv": 0.05, "l2": 0.02, "cases": []}
    for kind, p in params.items():
        np.save(os.path.join(OUT, f"param_{kind}.npy"), p.numpy().astype(np.float32))
        p32 = torch.tensor(np.load(os.path.join(OUT, f"param_{kind}.npy")), dtype=torch.float64)
        for name, t in TRANSFORMS.items():
            model64 = model.double()
            q = p32.clone().requires_grad_(True)
            loss, objective = loss_of(model64, q, kind, channels, t, expected["tv"], expected["l2"])
            loss.backward()
            grad = q.grad.numpy()
            q32 = p32.float().clone().requires_grad_(True)
            loss32, _ = loss_of(model.float(), q32, kind, channels, t, expected["tv"], expected["l2"])
            loss32.backward()
            err = np.linalg.norm(q32.grad.numpy() - grad) / np.linalg.norm(grad)
            assert err < 1e-4, (kind, name, err)
            f = f"grad_{kind}_{name}.npy"
            np.save(os.path.join(OUT, f), grad.astype(np.float32))
            expected["cases"].append({"parameterization": kind, "transforms": [[k, a] for k, a in t], "gradient": f,
                                      "objective": objective.detach().numpy().tolist()})
            print(kind, name, "objective", objective.detach().numpy(), "float32 vs float64", f"{err:.1e}")
    # The Fourier parameterization against NumPy: image = irfft2(scale * spectrum, norm="ortho") / 4, and
    # its adjoint applied to a random image (the gradient of <image, r> with respect to the spectrum).
    spec = params["fourier"][:1].numpy()
    scale = 1.0 / np.maximum(freqs(SIZE, SIZE), 1.0 / SIZE)
    image = np.fft.irfft2((scale[None, None] * (spec[..., 0] + 1j * spec[..., 1])), s=(SIZE, SIZE), norm="ortho") / 4.0
    np.save(os.path.join(OUT, "fourier_image.npy"), image.astype(np.float32))
    r = np.random.default_rng(2).standard_normal((1, 3, SIZE, SIZE))
    np.save(os.path.join(OUT, "fourier_probe.npy"), r.astype(np.float32))
    s = torch.tensor(spec.astype(np.float32), dtype=torch.float64, requires_grad=True)
    (fourier_image(s, SIZE, SIZE) * torch.tensor(r.astype(np.float32), dtype=torch.float64)).sum().backward()
    np.save(os.path.join(OUT, "fourier_adjoint.npy"), s.grad.numpy().astype(np.float32))
    assert np.linalg.norm(fourier_image(torch.tensor(spec), SIZE, SIZE).numpy() - image) < 1e-10
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main()
