"""Writes the image and .npy fixtures of Tests/Fixtures/imaging and Tests/Fixtures/npy.

Every expected array is computed here by Pillow or NumPy, never by ConvLens.
Run from the repository root:  .venv-ref/bin/python Tests/ReferenceGenerators/make_image_fixtures.py
"""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image, ImageOps

ROOT = os.path.join(os.path.dirname(__file__), "..", "Fixtures")
IMG = os.path.join(ROOT, "imaging")
NPYDIR = os.path.join(ROOT, "npy")
os.makedirs(IMG, exist_ok=True)
os.makedirs(NPYDIR, exist_ok=True)
rng = np.random.default_rng(1234)


def save_expected(name, arr):
    """Expected pixels as H×W×C float32 (values 0..255)."""
    a = np.asarray(arr, dtype=np.float32)
    if a.ndim == 2:
        a = a[:, :, None]
    np.save(os.path.join(IMG, name + ".expected.npy"), a)


def raw_png(path, data, color_type, bit_depth):
    """A minimal PNG writer for the 16-bit colour types Pillow cannot write."""
    h, w = data.shape[:2]
    dtype = ">u2" if bit_depth == 16 else "u1"
    rows = b"".join(b"\x00" + data[y].astype(dtype).tobytes() for y in range(h))

    def chunk(kind, body):
        c = struct.pack(">I", len(body)) + kind + body
        return c + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


H, W = 5, 7
rgb8 = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
gray8 = rng.integers(0, 256, (H, W), dtype=np.uint8)
alpha8 = rng.integers(0, 256, (H, W), dtype=np.uint8)

# 8-bit colour types written by Pillow.
Image.fromarray(gray8, "L").save(os.path.join(IMG, "gray8.png"))
save_expected("gray8", gray8)
Image.fromarray(np.dstack([gray8, alpha8]), "LA").save(os.path.join(IMG, "graya8.png"))
save_expected("graya8", gray8)  # alpha is dropped
Image.fromarray(rgb8, "RGB").save(os.path.join(IMG, "rgb8.png"))
save_expected("rgb8", rgb8)
Image.fromarray(np.dstack([rgb8, alpha8]), "RGBA").save(os.path.join(IMG, "rgba8.png"))
save_expected("rgba8", rgb8)
pal = Image.fromarray(rgb8, "RGB").quantize(colors=16)
pal.save(os.path.join(IMG, "palette8.png"))
save_expected("palette8", np.asarray(pal.convert("RGB")))
# 16-bit: gray through Pillow, the others through the raw writer. Expected: the 8-bit rounding
# v/257 (libpng's simplified API with PNG_IMAGE_FLAG_16BIT_sRGB).
gray16 = rng.integers(0, 65536, (H, W), dtype=np.uint16)
Image.fromarray(gray16.astype(np.uint16)).save(os.path.join(IMG, "gray16.png"))
save_expected("gray16", np.round(gray16 / 257.0))
rgb16 = rng.integers(0, 65536, (H, W, 3), dtype=np.uint16)
raw_png(os.path.join(IMG, "rgb16.png"), rgb16, 2, 16)
save_expected("rgb16", np.round(rgb16 / 257.0))
rgba16 = rng.integers(0, 65536, (H, W, 4), dtype=np.uint16)
raw_png(os.path.join(IMG, "rgba16.png"), rgba16, 6, 16)
save_expected("rgba16", np.round(rgba16[:, :, :3] / 257.0))
ga16 = rng.integers(0, 65536, (H, W, 2), dtype=np.uint16)
raw_png(os.path.join(IMG, "graya16.png"), ga16, 4, 16)
save_expected("graya16", np.round(ga16[:, :, 0] / 257.0))

# JPEG: smooth content so the codec is well conditioned; expected = Pillow's decode.
yy, xx = np.mgrid[0:24, 0:32]
smooth = np.dstack([(xx * 8) % 256, (yy * 10) % 256, ((xx + yy) * 4) % 256]).astype(np.uint8)
Image.fromarray(smooth, "RGB").save(os.path.join(IMG, "rgb.jpg"), quality=90)
save_expected("rgb.jpg", np.asarray(Image.open(os.path.join(IMG, "rgb.jpg")).convert("RGB")))
Image.fromarray(smooth[:, :, 0], "L").save(os.path.join(IMG, "gray.jpg"), quality=90)
save_expected("gray.jpg", np.asarray(Image.open(os.path.join(IMG, "gray.jpg"))))
for orientation in (3, 6, 8):
    exif = Image.Exif()
    exif[0x0112] = orientation
    name = f"orientation{orientation}.jpg"
    Image.fromarray(smooth, "RGB").save(os.path.join(IMG, name), quality=90, exif=exif)
    upright = ImageOps.exif_transpose(Image.open(os.path.join(IMG, name))).convert("RGB")
    save_expected(name, np.asarray(upright))
Image.fromarray(smooth, "RGB").convert("CMYK").save(os.path.join(IMG, "cmyk.jpg"), quality=90)

# Resize references: Pillow's bilinear (antialiased when shrinking) on an 8-bit RGB image.
src = rng.integers(0, 256, (23, 37, 3), dtype=np.uint8)
src[:, :, 0] = np.clip(src[:, :, 0] // 2 + (np.arange(37) * 3)[None, :], 0, 255)
Image.fromarray(src, "RGB").save(os.path.join(IMG, "resize_source.png"))
for (w, h) in [(16, 11), (50, 40), (37, 9)]:
    out = Image.fromarray(src, "RGB").resize((w, h), Image.BILINEAR)
    save_expected(f"resize_{w}x{h}", np.asarray(out))

# torchvision's preprocessing of the bundled cat photograph (small sizes keep the fixture small).
from torchvision import transforms  # noqa: E402

cat = Image.open(os.path.join(ROOT, "..", "..", "Sources", "ConvLens", "Resources", "images", "chelsea.png")).convert("RGB")
pipeline = transforms.Compose([transforms.Resize(64), transforms.CenterCrop(56), transforms.ToTensor(),
                               transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
np.save(os.path.join(IMG, "chelsea_torchvision.npy"), pipeline(cat).numpy()[None].astype(np.float32))

# Bad inputs.
with open(os.path.join(IMG, "rgb8.png"), "rb") as f:
    good = f.read()
with open(os.path.join(IMG, "truncated.png"), "wb") as f:
    f.write(good[: len(good) // 2])
huge = bytearray(good)
huge[16:24] = struct.pack(">II", 1_000_000, 1_000_000)
huge[29:33] = struct.pack(">I", zlib.crc32(bytes(huge[12:29])) & 0xFFFFFFFF)
with open(os.path.join(IMG, "huge.png"), "wb") as f:
    f.write(bytes(huge))
open(os.path.join(IMG, "empty.png"), "wb").close()
with open(os.path.join(IMG, "not_an_image.png"), "wb") as f:
    f.write(b"hello, this is text and not an image\n")

# .npy files written by NumPy.
a = rng.standard_normal((2, 3, 4)).astype(np.float32)
np.save(os.path.join(NPYDIR, "f4.npy"), a)
np.save(os.path.join(NPYDIR, "f4.expected.npy"), a)
np.save(os.path.join(NPYDIR, "f8.npy"), a.astype(np.float64) * 1.5)
np.save(os.path.join(NPYDIR, "f8.expected.npy"), (a.astype(np.float64) * 1.5).astype(np.float32))
np.save(os.path.join(NPYDIR, "f4_big_endian.npy"), a.astype(">f4"))
with open(os.path.join(NPYDIR, "f4_v2.npy"), "wb") as f:
    np.lib.format.write_array(f, a, version=(2, 0))
np.save(os.path.join(NPYDIR, "scalar.npy"), np.float32(3.5))
np.save(os.path.join(NPYDIR, "fortran.npy"), np.asfortranarray(a))
np.save(os.path.join(NPYDIR, "int32.npy"), np.arange(6, dtype=np.int32))
np.save(os.path.join(NPYDIR, "object.npy"), np.array([1, "a"], dtype=object), allow_pickle=True)
with open(os.path.join(NPYDIR, "f4.npy"), "rb") as f:
    good = f.read()
with open(os.path.join(NPYDIR, "truncated.npy"), "wb") as f:
    f.write(good[:-7])
with open(os.path.join(NPYDIR, "bad_header.npy"), "wb") as f:
    f.write(b"\x93NUMPY\x01\x00\x10\x00{'descr': <f4 }\n")
with open(os.path.join(NPYDIR, "huge_shape.npy"), "wb") as f:
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000, 4000000000), }"
    hdr += " " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + "\n"
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + b"\x00" * 16)
print("wrote", IMG, "and", NPYDIR)
