"""The bad-input corpus: every case gives a prediction or the one clear error, never a crash."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifier import UnreadableImage, load_image
from classifier.images import DECODE_BUDGET, MAX_PIXELS, decode_cost
from tests.conftest import half_image, jpeg_bytes, png_bytes

ROOT = Path(__file__).resolve().parent.parent


def exif_rotated_jpeg() -> bytes:
    """A landscape JPEG whose EXIF says 'rotate 90° clockwise to display' (orientation 6)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return jpeg_bytes(half_image((64, 32)), exif=exif.tobytes(), quality=95)


def bomb_png(width=100_000, height=100_000) -> bytes:
    """A tiny PNG whose header claims 10 gigapixels."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


def animated_gif() -> bytes:
    frames = [Image.new("P", (20, 20), i) for i in (10, 200)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def encoded(fmt: str, size=(48, 32), **kwargs) -> bytes:
    """A real HEIC (pillow-heif's encoder) or AVIF (Pillow's own) file: what iPhones and Android send."""
    buf = io.BytesIO()
    half_image(size).save(buf, fmt, **kwargs)
    return buf.getvalue()


GOOD = {
    "png_with_alpha": lambda: png_bytes(Image.new("RGBA", (30, 20), (255, 0, 0, 0))),
    "cmyk_jpeg": lambda: jpeg_bytes(Image.new("CMYK", (30, 20), (0, 255, 0, 0))),
    "png_16_bit": lambda: png_bytes(Image.fromarray(np.full((20, 30), 60000, np.uint16))),
    "animated_gif": animated_gif,
    "greyscale": lambda: jpeg_bytes(Image.new("L", (10, 10), 128)),
    "palette": lambda: png_bytes(Image.new("P", (10, 10), 3)),
    "exif_rotated": exif_rotated_jpeg,
    "heic": lambda: encoded("HEIF", quality=90),
    "avif": lambda: encoded("AVIF", quality=90),
}
BAD = {
    "empty": lambda: b"",
    "text": lambda: b"hello, this is not a photo\n" * 10,
    "truncated_jpeg": lambda: jpeg_bytes(Image.effect_noise((200, 200), 50).convert("RGB"))[:700],
    "corrupt_png": lambda: png_bytes(Image.new("RGB", (50, 50)))[:40] + b"\x00" * 40,
    "bomb_header": bomb_png,
    "html": lambda: b"<!doctype html><html><body>hi</body></html>",
    "truncated_heic": lambda: encoded("HEIF", (256, 256), quality=90)[:300],
    "one_pixel": lambda: png_bytes(Image.new("RGB", (1, 1), (1, 2, 3))),
    "strip": lambda: png_bytes(Image.new("L", (4000, 10))),
    "eps": lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
    "sixteen_bit_over_budget": lambda: png_bytes(Image.new("I;16", (6000, 6000))),
}


@pytest.mark.parametrize("name", GOOD)
def test_readable_inputs_become_rgb(name):
    image = load_image(GOOD[name]())
    assert image.mode == "RGB" and image.width >= 1 and image.height >= 1


@pytest.mark.parametrize("name", BAD)
def test_unreadable_inputs_raise_one_clear_error(name):
    with pytest.raises(UnreadableImage) as info:
        load_image(BAD[name]())
    message = str(info.value)
    assert message and "\n" not in message and "Traceback" not in message


def test_transparent_pixels_are_flattened_onto_white():
    assert load_image(GOOD["png_with_alpha"]()).getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_is_scaled_not_clipped():
    value = load_image(GOOD["png_16_bit"]()).getpixel((0, 0))[0]
    assert 200 < value <= 255  # 60000/65535 of full scale, not 255-clipped garbage or 0
    dark = load_image(png_bytes(Image.fromarray(np.full((10, 10), 6000, np.uint16)))).getpixel((0, 0))[0]
    assert dark < value


def test_first_frame_of_animation():
    first = load_image(GOOD["animated_gif"]())
    frame0 = Image.open(io.BytesIO(GOOD["animated_gif"]())).convert("RGB").getpixel((0, 0))
    assert first.getpixel((0, 0)) == frame0


def test_exif_orientation_is_applied():
    image = load_image(exif_rotated_jpeg())
    assert image.size == (32, 64)  # landscape stored, portrait shown
    top, bottom = np.asarray(image)[2, 16], np.asarray(image)[-3, 16]
    assert top.mean() > 200 and bottom.mean() < 50  # the white left half is now on top


def test_a_callers_image_is_turned_on_a_copy_and_never_changed():
    """Decoded photos are turned in place (no copy); an image the caller passes is not."""
    given = Image.open(io.BytesIO(exif_rotated_jpeg()))
    given.load()
    image = load_image(given)
    assert image.size == (32, 64) and given.size == (64, 32) and image is not given
    rgb = Image.new("RGB", (8, 8), "red")
    same = load_image(rgb)
    same.paste((0, 0, 255), (0, 0, 8, 8))
    assert rgb.getpixel((0, 0)) == (255, 0, 0)


def test_pixel_cap_and_budget_are_generous_for_real_photos():
    assert MAX_PIXELS > 48_000_000  # a 48 MP phone photo still goes through
    assert decode_cost("RGB", 6000, 4000) <= DECODE_BUDGET  # a 24 MP camera's PNG or HEIC


def test_float_and_32_bit_images_are_read():
    """Mode F (a float TIFF) and mode I; NaN is black, 0..1 floats span the grey scale."""
    data = np.full((40, 40), 0.5, np.float32)
    data[0, 0] = np.nan
    buf = io.BytesIO()
    Image.fromarray(data, "F").save(buf, "TIFF")
    image = load_image(buf.getvalue())
    assert image.getpixel((0, 0)) == (0, 0, 0) and 120 <= image.getpixel((20, 20))[0] <= 130
    assert load_image(Image.fromarray(np.full((20, 20), 40000, np.int32), "I")).getpixel((5, 5))[0] > 150


def test_a_large_photo_is_reduced_before_it_is_converted():
    """With min_size, a 4000-px RGBA PNG comes back reduced to about min_size, its transparency white."""
    big = Image.new("RGBA", (4000, 3000), (255, 0, 0, 0))
    image = load_image(png_bytes(big), min_size=640)
    assert image.mode == "RGB" and 640 <= min(image.size) < 1280
    assert image.getpixel((10, 10)) == (255, 255, 255)


HOSTILE = {
    # each decodes (or is refused) within DECODE_BUDGET: the old code held ~5 full-size copies
    "rgba_7000": lambda: png_bytes(Image.new("RGBA", (7000, 7000), (0, 0, 0, 0))),
    "grey16_7000": lambda: png_bytes(Image.new("I;16", (7000, 7000))),
    "palette_7000": lambda: png_bytes(Image.new("P", (7000, 7000))),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_images_stay_inside_the_memory_budget(name, tmp_path):
    """Peak RSS of a fresh process decoding the file, over its RSS just before: the budget's, not 1 GB."""
    path = tmp_path / "hostile"
    path.write_bytes(HOSTILE[name]())
    child = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert child.returncode == 0, child.stderr
    grew_mib, outcome = child.stdout.split()
    assert float(grew_mib) < DECODE_BUDGET / 2**20 + 40, (name, grew_mib, outcome)


MEASURE = """
import resource, sys
from classifier.images import UnreadableImage, load_image
data = open(sys.argv[1], "rb").read()
from PIL import Image
load_image(Image.new("RGBA", (64, 64)))  # plugins and first-call costs before the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    outcome = "read:%dx%d" % load_image(data, min_size=1280).size
except UnreadableImage as exc:
    outcome = "refused"
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, outcome)
"""


def test_paths_and_pil_images_are_accepted(tmp_path):
    path = tmp_path / "p.jpg"
    path.write_bytes(jpeg_bytes(Image.new("RGB", (8, 8), "red")))
    assert load_image(path).size == (8, 8)
    assert load_image(str(path)).size == (8, 8)
    assert load_image(Image.new("LA", (8, 8))).mode == "RGB"
    with pytest.raises(UnreadableImage):
        load_image(tmp_path / "missing.jpg")


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heic_and_avif_keep_their_pixels(fmt):
    """Not just opened: the left half stays light and the right half dark after decoding."""
    image = np.asarray(load_image(encoded(fmt, (64, 32), quality=95)), int)
    assert image.shape == (32, 64, 3)
    assert image[:, :24].mean() > 200 and image[:, 40:].mean() < 50
