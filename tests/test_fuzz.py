"""Fuzzing image and clip decoding (Hypothesis): real files of every format the bot reads, mutated
(bytes flipped, cut, inserted, header sizes overwritten). Every input gives an RGB picture within the
limits or the one clear ``UnreadableImage``; nothing else escapes, nothing hangs.

CI runs a short budget; a maintainer runs it for hours with, for example,
``FUZZ_EXAMPLES=200000 python -m pytest tests/test_fuzz.py -p no:cacheprovider``."""

from __future__ import annotations

import functools
import io
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from classifier import UnreadableImage
from classifier.clips import FRAMES, sample_frames
from classifier.images import MAX_PIXELS, load_image
from tests.conftest import face_clip

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="FUZZ_EXAMPLES" not in os.environ,  # CI: the same inputs on every run; a maintainer: new ones
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def _encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


@functools.cache
def image_seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    frames = [Image.new("P", (16, 16), i) for i in (10, 200)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=50)
    return [
        _encoded(rgb, "JPEG", quality=80),
        _encoded(rgb, "PNG"),
        _encoded(rgb.convert("RGBA"), "PNG"),
        _encoded(rgb.convert("P"), "PNG"),
        _encoded(Image.fromarray(np.full((16, 16), 40000, np.uint16)), "PNG"),
        gif.getvalue(),
        _encoded(rgb, "WEBP", quality=80),
        _encoded(rgb, "BMP"),
        _encoded(rgb, "TIFF"),
        _encoded(Image.fromarray(np.full((16, 16), 0.5, np.float32), "F"), "TIFF"),
        _encoded(rgb, "HEIF", quality=80),
        _encoded(rgb, "AVIF", quality=80),
    ]


@functools.cache
def clip_seeds() -> list[bytes]:
    return [face_clip(fmt, frames=6, side=32) for fmt in ("mp4", "webm", "gif")]


@st.composite
def mutated(draw, seeds):
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        kind = draw(st.sampled_from(["flip", "cut", "insert", "size"]))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif kind == "size" and at < 64:  # header fields: widths, heights, counts, lengths
            data[at : at + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\x00\x01"]))
    return bytes(data)


@FUZZ
@given(data=mutated(image_seeds), min_size=st.sampled_from([None, 64, 1280]))
def test_any_mutated_image_is_read_within_limits_or_refused_clearly(data, min_size):
    try:
        image = load_image(data, min_size=min_size)
    except UnreadableImage as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert image.mode == "RGB" and 0 < image.width * image.height <= MAX_PIXELS


@FUZZ
@given(data=mutated(clip_seeds))
def test_any_mutated_clip_is_read_within_limits_or_refused_clearly(data):
    try:
        frames = sample_frames(data)
    except UnreadableImage as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert 0 < len(frames) <= FRAMES and all(f.mode == "RGB" and max(f.size) <= 640 for f in frames)


@pytest.mark.parametrize("seed", range(12))
def test_every_image_seed_is_readable_as_it_is(seed):
    """The fuzzer starts from files the bot reads: a seed it refused would fuzz only the refusal."""
    assert load_image(image_seeds()[seed]).size in ((32, 24), (16, 16))
