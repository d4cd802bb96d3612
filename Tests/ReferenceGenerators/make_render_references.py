"""Independent renderings of the render goldens (Tests/Fixtures/golden), from the written rules.

The goldens of RenderGoldenTests are recorded by ConvLens itself. This script draws the same
grids from the same synthetic tensors with NumPy, Pillow and matplotlib's colormaps, following the
written rules only (the design's "Grids" section, as Docs/Views.md states it), and writes them to
Tests/Fixtures/golden/independent/<golden name>.png. RenderGoldenTests compares each golden with
its independent rendering (gray: ±1 level for rounding; matplotlib colormaps: ±3 levels, since
matplotlib looks colours up in its 256-entry table where ConvLens interpolates between entries).

The rules, as written:
- grid: columns = ceil(sqrt(n)), rows filled row-major, each tile magnified by an integer zoom
  (nearest neighbour) and surrounded by 1 px of white;
- activations, `--scale layer`: one min-max over the whole layer to [0, 1]; `tile`: each channel's
  own; with the diverging colormap, v / max|v| into [-1, 1] instead (layer-wide or per channel);
- boost b: each channel times (max|v| + 1e-10)^-b after scaling; gamma g: sign(v) |v|^g;
- colormaps: gray, matplotlib's viridis, matplotlib's bwr placed at (s + 1) / 2 for signed data;
- filters, rgb view: filter o's input channels 0, 1, 2 as red, green, blue; `--scale global`: one
  min-max over the whole kernel tensor; `tile`: each filter's own; pairs view: one gray tile per
  (output, input) pair, one row per output;
- 8-bit: round(255 v), halves away from zero.

Run: python Tests/ReferenceGenerators/make_render_references.py   (numpy, pillow, matplotlib)
"""
import math
import os

import matplotlib
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "golden", "independent")
f32 = np.float32


def activations():
    """[6, 5, 5]: signed, channel 2 constant, channel 5 much weaker (RenderGoldenTests.activations)."""
    t = np.zeros((6, 5, 5), f32)
    for c in range(6):
        for y in range(5):
            for x in range(5):
                v = f32(np.cos(f32(0.9 * c + 0.8 * y + 0.5 * x))) * f32(3) + f32(c) * f32(0.2)
                if c == 2:
                    v = f32(1.5)
                if c == 5:
                    v = f32(v * f32(0.05))
                t[c, y, x] = v
    return t


def weights(a, b):
    """[a, b, 3, 3] (RenderGoldenTests.weights)."""
    t = np.zeros((a, b, 3, 3), f32)
    for o in range(a):
        for i in range(b):
            for y in range(3):
                for x in range(3):
                    t[o, i, y, x] = f32(np.sin(f32(1.3 * o + 2.1 * i + 0.7 * y - 0.4 * x))) * f32(o + 1) / f32(a)
    return t


def minmax(v, lo, hi):
    if hi <= lo:
        return np.full(v.shape, 0.5, np.float64)
    return np.clip((v.astype(np.float64) - lo) / (hi - lo), 0, 1)


def symmetric(v, m):
    if m <= 0:
        return np.zeros(v.shape, np.float64)
    return np.clip(v.astype(np.float64) / m, -1, 1)


def colour(tile, cmap, signed=False):
    """[h, w] in [0, 1] (or [-1, 1] when signed) → [h, w, 3] in [0, 1]."""
    if cmap == "gray":
        return np.repeat(np.clip(tile, 0, 1)[..., None], 3, axis=2)
    t = (tile + 1) / 2 if signed else tile
    return matplotlib.colormaps[cmap](np.clip(t, 0, 1))[..., :3]


def grid(tiles, columns=None, zoom=1, padding=1):
    """Tiles [h, w, 3] in [0, 1] → uint8 grid on white."""
    n = len(tiles)
    cols = min(columns or math.ceil(math.sqrt(n)), n)
    rows = (n + cols - 1) // cols
    h, w = tiles[0].shape[:2]
    cw, ch = w * zoom + 2 * padding, h * zoom + 2 * padding
    canvas = np.ones((rows * ch, cols * cw, 3))
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        big = np.repeat(np.repeat(tile, zoom, axis=0), zoom, axis=1)
        canvas[r * ch + padding:r * ch + padding + h * zoom, c * cw + padding:c * cw + padding + w * zoom] = big
    return np.floor(canvas * 255 + 0.5).clip(0, 255).astype(np.uint8)


def activation_grid(scale="layer", cmap="gray", boost=0.0, gamma=1.0, zoom=2):
    a = activations()
    signed = cmap == "bwr"
    if signed:
        m = np.abs(a).max()
        tiles = [symmetric(a[c], m if scale == "layer" else np.abs(a[c]).max()) for c in range(6)]
    else:
        tiles = [minmax(a[c], a.min(), a.max()) if scale == "layer" else minmax(a[c], a[c].min(), a[c].max()) for c in range(6)]
    if boost > 0:
        tiles = [t * (np.abs(t).max() + 1e-10) ** (-boost) for t in tiles]
    if gamma != 1:
        tiles = [np.sign(t) * np.abs(t) ** gamma for t in tiles]
    return grid([colour(t, cmap, signed) for t in tiles], zoom=zoom)


def filter_grid_rgb(scale="global"):
    w = weights(4, 3)
    tiles = []
    for o in range(4):
        lo, hi = (w.min(), w.max()) if scale == "global" else (w[o].min(), w[o].max())
        tiles.append(minmax(np.transpose(w[o], (1, 2, 0)), lo, hi))
    return grid(tiles, zoom=4)


def filter_grid_pairs(scale="global"):
    w = weights(3, 4)
    tiles = []
    for o in range(3):
        for i in range(4):
            lo, hi = (w.min(), w.max()) if scale == "global" else (w[o, i].min(), w[o, i].max())
            tiles.append(colour(minmax(w[o, i], lo, hi), "gray"))
    return grid(tiles, columns=4, zoom=3)


CASES = {
    "activations-layer-gray": lambda: activation_grid("layer"),
    "activations-tile-gray": lambda: activation_grid("tile"),
    "activations-layer-viridis": lambda: activation_grid("layer", "viridis"),
    "activations-tile-viridis": lambda: activation_grid("tile", "viridis"),
    "activations-layer-diverging": lambda: activation_grid("layer", "bwr"),
    "activations-tile-diverging": lambda: activation_grid("tile", "bwr"),
    "activations-boost0.5": lambda: activation_grid(boost=0.5),
    "activations-boost1": lambda: activation_grid(boost=1.0),
    "activations-gamma0.5": lambda: activation_grid(gamma=0.5),
    "activations-diverging-boost-gamma": lambda: activation_grid("layer", "bwr", boost=0.5, gamma=2.0),
    "filters-rgb-global": lambda: filter_grid_rgb("global"),
    "filters-rgb-tile": lambda: filter_grid_rgb("tile"),
    "filters-pairs-global": lambda: filter_grid_pairs("global"),
    "filters-pairs-tile": lambda: filter_grid_pairs("tile"),
}

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, make in CASES.items():
        Image.fromarray(make(), "RGB").save(os.path.join(OUT, name + ".png"))
    print(f"wrote {len(CASES)} renderings to {OUT}")
