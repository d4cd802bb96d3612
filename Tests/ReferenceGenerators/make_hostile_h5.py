"""Hostile HDF5 files for the Keras importer (Docs/Reliability.md), written with h5py from the
legitimate fixture Tests/Fixtures/keras/seq.h5:

- external_link.h5: conv1's kernel replaced by an external link to another file (ConvLens
  follows hard links only, so the kernel is missing rather than read from elsewhere);
- external_storage.h5: conv1's kernel stored in an external raw file (never read);
- hard_link_cycle.h5: a group that links to itself twice (the walk stops at its limits).

Run: .venv-ref/bin/python Tests/ReferenceGenerators/make_hostile_h5.py
"""
import os
import shutil

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Fixtures")
SOURCE = os.path.join(FIXTURES, "keras", "seq.h5")
OUT = os.path.join(FIXTURES, "fuzz", "keras-h5")
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
        del f[k]
        f[k] = h5py.ExternalLink("elsewhere.h5", "/kernel")
    with h5py.File(copy("external_storage.h5"), "r+") as f:
        k = kernel_path(f)
        shape = f[k].shape
        del f[k]
        f.create_dataset(k, shape=shape, dtype="float32", external=[("elsewhere.bin", 0, int(np.prod(shape)) * 4)])
    with h5py.File(copy("hard_link_cycle.h5"), "r+") as f:
        g = f.create_group("model_weights/loop")
        g["a"] = g
        g["b"] = g
    print("wrote", OUT)


if __name__ == "__main__":
    main()
