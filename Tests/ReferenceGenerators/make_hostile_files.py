"""Hostile Keras files for the regression corpus Tests/Fixtures/fuzz (Docs/Reliability.md), made
from the legitimate fixtures Tests/Fixtures/keras/seq.h5 and seq.keras. With h5py:

- external_link.h5: conv1's kernel replaced by an external link to elsewhere.h5, whose kernel
  has the wrong shape (ConvLens follows hard links only, so the kernel is missing rather than
  read from elsewhere);
- external_storage.h5: conv1's kernel stored in the external raw file elsewhere.bin (never read);
- hard_link_cycle.h5: a group that links to itself twice (each group is walked once, so the
  model imports);
- integer_and_tied_weights.h5: an int64 weight beside conv1's kernel and a second hard link to
  the kernel (both valid: the model imports).
With zipfile:
- deflate_size_lie.keras: seq.keras re-deflated, its central directory claiming 512 MiB for the
  weights (more than deflate can expand from their compressed size).
With json, from the scan seed Tests/Fixtures/scan/seeds/shard.json made a whole one-shard scan:
- scan/array_name_escape.json: a layer whose values array is named "../escape_values.npy"
  (scan-merge writes the arrays under their names into its folder: the name must be refused).

Run: .venv-ref/bin/python Tests/ReferenceGenerators/make_hostile_files.py
"""
import json
import os
import shutil
import struct
import zipfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Fixtures")
SOURCE = os.path.join(FIXTURES, "keras", "seq.h5")
OUT = os.path.join(FIXTURES, "fuzz", "keras-h5")
ZIP_OUT = os.path.join(FIXTURES, "fuzz", "keras-zip")
KERNEL = "model_weights/conv1/conv1/kernel"


def copy(name):
    path = os.path.join(OUT, name)
    shutil.copyfile(SOURCE, path)
    return path


def kernel_path(f):
    # Keras 3's legacy writer nests one level deeper than Keras 2's; find the kernel dataset.
    found = []
    f["model_weights/conv1"].visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) and "kernel" in n else None)
    return "model_weights/conv1/" + found[0]


def main():
    os.makedirs(OUT, exist_ok=True)
    with h5py.File(copy("external_link.h5"), "r+") as f:
        k = kernel_path(f)
        shape = f[k].shape
        del f[k]
        f[k] = h5py.ExternalLink("elsewhere.h5", "/kernel")
    # The link's target exists, with one output channel too many: a reader that followed the link
    # would report a kernel of the wrong shape instead of a missing one.
    with h5py.File(os.path.join(OUT, "elsewhere.h5"), "w") as f:
        f["kernel"] = np.ones(shape[:-1] + (shape[-1] + 1,), np.float32)
    with h5py.File(copy("external_storage.h5"), "r+") as f:
        k = kernel_path(f)
        shape = f[k].shape
        del f[k]
        f.create_dataset(k, shape=shape, dtype="float32", external=[("elsewhere.bin", 0, int(np.prod(shape)) * 4)])
    # The external data exist too (a reader that used them would import the model).
    np.ones(int(np.prod(shape)), np.float32).tofile(os.path.join(OUT, "elsewhere.bin"))
    # An integer weight (as an adapted Normalization's `count`) and a second hard link to a
    # kernel (tied weights): valid files that must import.
    with h5py.File(copy("integer_and_tied_weights.h5"), "r+") as f:
        k = kernel_path(f)
        f[k.rsplit("/", 1)[0] + "/count"] = np.array(7, np.int64)
        f[k.rsplit("/", 1)[0] + "/kernel_tied"] = f[k]
    with h5py.File(copy("hard_link_cycle.h5"), "r+") as f:
        g = f.create_group("model_weights/loop")
        g["a"] = g
        g["b"] = g
    os.makedirs(ZIP_OUT, exist_ok=True)
    path = os.path.join(ZIP_OUT, "deflate_size_lie.keras")
    with zipfile.ZipFile(os.path.join(FIXTURES, "keras", "seq.keras")) as src, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    data = bytearray(open(path, "rb").read())
    name = b"model.weights.h5"
    entry = data.index(b"PK\x01\x02")  # the first central directory entry
    while data[entry + 46:entry + 46 + len(name)] != name:
        entry = data.index(b"PK\x01\x02", entry + 4)
    struct.pack_into("<I", data, entry + 24, 512 << 20)  # uncompressed size
    open(path, "wb").write(bytes(data))
    scan_out = os.path.join(FIXTURES, "fuzz", "scan")
    os.makedirs(scan_out, exist_ok=True)
    scan = json.load(open(os.path.join(FIXTURES, "scan", "seeds", "shard.json")))
    scan["shard"] = {"count": 1, "index": 0}
    scan["layers"][0]["values_npy"] = "../escape_values.npy"
    with open(os.path.join(scan_out, "array_name_escape.json"), "w") as f:
        json.dump(scan, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", OUT, ZIP_OUT, scan_out)


if __name__ == "__main__":
    main()
