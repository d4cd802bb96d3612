#!/usr/bin/env python3
"""Opens a logdir written by `convlens tensorboard` with TensorBoard's own EventAccumulator and
checks every expected tag and image size. Run by `make tensorboard-check` (see
Scripts/tensorboard-check.sh), which writes two runs of the bundled MobileNetV2 into LOGDIR:

    convlens tensorboard --logdir LOGDIR --layer #0 --layer #94 --layer #99 --step 3 --max-outputs 4
    convlens tensorboard --logdir LOGDIR --layer #0 --step 7 --max-outputs 4

Expected sizes are computed here from DESIGN.md §1 "Grids" (not read from convlens's output):
tiles magnified by the smallest integer making the longer side >= 32 px (8 px for fully connected
layers), 1 px of padding around each tile, ceil(sqrt(n)) columns.
"""
import glob
import io
import math
import os
import sys

from PIL import Image
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.backend.event_processing import event_file_loader


def zoom(side, minimum=32):
    return max(1, math.ceil(minimum / side))


def grid_size(n, h, w, minimum=32):
    z = zoom(max(h, w), minimum)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    return cols * (w * z + 2), rows * (h * z + 2)


CONV0 = "/features/features.0/features.0.0/Conv"     # weights [32, 3, 3, 3], output [1, 32, 112, 112]
CONV94 = "/features/features.17/conv/conv.2/Conv"    # weights [320, 960, 1, 1], output [1, 320, 7, 7]
GEMM = "/classifier/classifier.1/Gemm"               # output [1, 1000], not a convolution

# tag -> (width, height, PIL mode)
expected = {}
for i in range(4):
    expected[f"{CONV0}/filters/image/{i}"] = (33, 33, "RGB")          # 3x3 RGB filters, zoom 11
    expected[f"{CONV0}/activations/image/{i}"] = (112, 112, "L")
    expected[f"{CONV94}/filters/image/{i}"] = (32, 32, "L")           # 1x1 filters (norm), zoom 32
    expected[f"{CONV94}/activations/image/{i}"] = (35, 35, "L")       # 7x7 maps, zoom 5
    expected[f"{GEMM}/activations/image/{i}"] = (8, 8, "L")           # 1x1 squares, zoom 8
expected[f"{CONV0}/grid"] = grid_size(32, 112, 112) + ("RGB",)
expected[f"{CONV94}/grid"] = grid_size(320, 7, 7) + ("RGB",)
expected[f"{GEMM}/grid"] = grid_size(1000, 1, 1, minimum=8) + ("RGB",)
steps = {tag: [3] for tag in expected}
for tag in expected:
    if tag.startswith(CONV0 + "/"):
        steps[tag] = [3, 7]


def main(logdir):
    failures = []
    files = sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*")))
    if len(files) != 2:
        failures.append(f"expected 2 event files (two runs), found {len(files)}: {files}")
    for path in files:
        # TensorBoard's reader checks both masked CRC-32Cs of every record and raises on a mismatch.
        events = list(event_file_loader.EventFileLoader(path).Load())
        if not events or events[0].file_version != "brain.Event:2":
            failures.append(f"{path}: the first record is not the brain.Event:2 file-version event")

    acc = event_accumulator.EventAccumulator(logdir, size_guidance={event_accumulator.IMAGES: 0})
    acc.Reload()
    tags = set(acc.Tags()["images"])
    for tag, (w, h, mode) in sorted(expected.items()):
        if tag not in tags:
            failures.append(f"missing tag {tag}")
            continue
        images = acc.Images(tag)
        got_steps = [e.step for e in images]
        if got_steps != steps[tag]:
            failures.append(f"{tag}: steps {got_steps}, expected {steps[tag]}")
        for e in images:
            im = Image.open(io.BytesIO(e.encoded_image_string))
            im.load()
            if im.size != (w, h) or im.mode != mode or (e.width, e.height) != (w, h):
                failures.append(f"{tag}: decoded {im.size} {im.mode}, summary says {e.width}x{e.height}; expected {(w, h)} {mode}")
    extra = tags - set(expected)
    if extra:
        failures.append(f"unexpected tags: {sorted(extra)[:5]}")
    if f"{GEMM}/filters/image/0" in tags:
        failures.append("a Gemm layer must not get filter images")
    if failures:
        print("tensorboard-check: FAILED")
        for f in failures:
            print("  " + f)
        return 1
    n = sum(len(acc.Images(t)) for t in tags)
    print(f"tensorboard-check: OK — EventAccumulator read {len(tags)} tags, {n} images, from {len(files)} event files; every image decodes to its expected size")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
