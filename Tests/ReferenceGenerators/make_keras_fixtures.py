"""Keras fixtures for the Keras importer (Tests/Fixtures/keras/).

Builds two small CNNs with Keras 3 on a CPU backend (no TensorFlow), saves each as `.keras` and as
legacy `.h5`, and writes Keras's own intermediate outputs (transposed to NCHW) as references, plus
the bad-input files of the CLI tests.

Run in its own venv (Tests/ReferenceGenerators/requirements-keras.txt):
    python3 -m venv .venv-keras && .venv-keras/bin/pip install -r Tests/ReferenceGenerators/requirements-keras.txt
    .venv-keras/bin/python Tests/ReferenceGenerators/make_keras_fixtures.py
"""
import os

os.environ.setdefault("KERAS_BACKEND", "numpy")
import json
import shutil
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
from keras import layers

OUT = Path(__file__).resolve().parents[1] / "Fixtures" / "keras"
rng = np.random.default_rng(10)


def nchw(a):
    a = np.asarray(a, dtype=np.float32)
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2)) if a.ndim == 4 else a


def randomize(model):
    """Gives every weight a reproducible non-trivial value (BN statistics included)."""
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        new = []
        for w, v in zip(layer.weights, ws):
            n = w.path.split("/")[-1]
            if n == "moving_variance":
                new.append(rng.uniform(0.5, 2.0, v.shape).astype(np.float32))
            elif n in ("gamma",):
                new.append(rng.uniform(0.5, 1.5, v.shape).astype(np.float32))
            elif n in ("count",):
                new.append(v)
            else:
                fan_in = int(np.prod(v.shape[:-1])) if v.ndim > 1 else 4
                new.append((rng.standard_normal(v.shape) / np.sqrt(max(fan_in, 1))).astype(np.float32))
        layer.set_weights(new)


def sequential():
    return keras.Sequential([
        keras.Input((12, 12, 3), name="image"),
        layers.Rescaling(1 / 255, offset=-0.5, name="rescale"),
        layers.Conv2D(6, 3, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(8, 3, activation="swish", name="conv2"),
        layers.ZeroPadding2D(1, name="pad"),
        layers.SeparableConv2D(8, 3, activation="relu6", name="sep"),
        layers.AveragePooling2D(2, padding="same", name="avg"),
        layers.Dropout(0.5, name="drop"),
        layers.Flatten(name="flat"),
        layers.Dense(5, activation="softmax", name="fc"),
    ], name="seq")


def functional():
    i = keras.Input((12, 12, 3), name="img")
    x = layers.Normalization(mean=[0.4, 0.5, 0.6], variance=[0.05, 0.06, 0.07], name="norm")(i)
    x = layers.Conv2D(8, 3, strides=2, padding="same", name="c1")(x)
    x = layers.ReLU(name="r1")(x)
    x = layers.BatchNormalization(name="bn1")(x)
    d = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(x)
    d = layers.Conv2D(8, 1, name="pw")(d)
    x = layers.Add(name="add")([x, d])
    x = layers.LeakyReLU(negative_slope=0.1, name="lrelu")(x)
    c = layers.Conv2D(4, 3, dilation_rate=2, padding="same", activation="tanh", name="c2")(x)
    x = layers.Concatenate(name="cat")([x, c])
    g = layers.Activation("sigmoid", name="gate")(x)
    x = layers.Multiply(name="mul")([x, g])
    x = layers.ReLU(max_value=6.0, name="r6")(x)
    a = layers.GlobalAveragePooling2D(name="gap")(x)
    m = layers.GlobalMaxPooling2D(name="gmp")(x)
    f = layers.Concatenate(name="feats")([a, m])
    y = layers.Dense(4, name="logits")(f)
    y = layers.Activation("softmax", name="prob")(y)
    return keras.Model(i, y, name="func")


def write(name, model, folded):
    randomize(model)
    model.save(OUT / f"{name}.keras")
    model.save(OUT / f"{name}.h5")
    x = rng.uniform(0, 255, (1, 12, 12, 3)).astype(np.float32)
    named = [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]
    probe = keras.Model(model.inputs, [l.output for l in named])
    outs = probe(x)
    # The graph input is the output of the folded preprocessing layer.
    start = {l.name: o for l, o in zip(named, outs)}
    inp = start[folded] if folded else x
    np.save(OUT / f"{name}_input.npy", nchw(np.asarray(inp)))
    refs = []
    for l, o in zip(named, outs):
        if l.name == folded:
            continue
        arr = nchw(np.asarray(o))
        np.save(OUT / f"{name}_{l.name}.npy", arr)
        refs.append({"layer": l.name, "npy": f"{name}_{l.name}.npy", "shape": list(arr.shape)})
    return {"model": name, "input": f"{name}_input.npy", "outputs": refs}


def bad_files():
    data = (OUT / "seq.h5").read_bytes()
    (OUT / "bad_truncated.h5").write_bytes(data[: len(data) // 2])
    with zipfile.ZipFile(OUT / "seq.keras") as src, zipfile.ZipFile(OUT / "bad_noconfig.keras", "w") as dst:
        for e in src.infolist():
            if e.filename != "config.json":
                dst.writestr(e, src.read(e.filename))
    m = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(2, 3, name="c"), layers.UpSampling2D(name="up")])
    m.save(OUT / "bad_unsupported.keras")
    shutil.copy(OUT / "seq.h5", OUT / "bad_weightshape.h5")
    with h5py.File(OUT / "bad_weightshape.h5", "r+") as f:
        path = []
        f["model_weights/conv1"].visit(lambda n: path.append(n) if n.endswith("kernel") else None)
        g = f["model_weights/conv1"][path[0].rsplit("/", 1)[0]]
        del g["kernel"]
        g.create_dataset("kernel", data=np.zeros((3, 3, 3, 7), np.float32))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(10)
    index = {
        "generator": "Tests/ReferenceGenerators/make_keras_fixtures.py",
        "keras": keras.__version__, "backend": keras.backend.backend(), "numpy": np.__version__,
        "h5py": h5py.__version__,
        "models": [write("seq", sequential(), "rescale"), write("func", functional(), "norm")],
    }
    bad_files()
    (OUT / "index.json").write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    main()
