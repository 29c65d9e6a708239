"""A file read in a child process: the same pixels as in-process, and whatever happens to the child
(a decoder's failure, its memory limit, its deadline) is the user's clear answer, never the bot's end."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from classifier import UnreadableImage, sandbox
from classifier.clips import sample_frames
from classifier.images import load_photo
from tests.conftest import face_clip, jpeg_bytes, png_bytes


def selfie() -> bytes:
    import skimage.data

    return jpeg_bytes(Image.fromarray(skimage.data.astronaut()))


async def test_a_photo_read_apart_has_the_same_pixels():
    data = selfie()
    image = await sandbox.read_in_child(data, "photo", 256)
    assert image.size == load_photo(data, 256).size and max(image.size) == 256
    assert np.array_equal(np.asarray(image), np.asarray(load_photo(data, 256)))


async def test_a_clip_read_apart_has_the_same_frames():
    data = face_clip("mp4", frames=24)
    frames = await sandbox.read_in_child(data, "clip")
    assert [np.asarray(f).tobytes() for f in frames] == [np.asarray(f).tobytes() for f in sample_frames(data)]


async def test_an_unreadable_file_read_apart_is_the_usual_answer():
    with pytest.raises(UnreadableImage, match="not an image"):
        await sandbox.read_in_child(b"hello" * 20, "photo")


async def test_a_child_over_its_memory_is_ended_and_answered(monkeypatch):
    """A file the in-process budget lets through, in a child allowed less: it ends there, nowhere else."""
    monkeypatch.setattr(sandbox, "MEMORY", 320 * 2**20)
    big = png_bytes(Image.new("RGBA", (7000, 7000), (0, 0, 0, 0)))
    with pytest.raises(UnreadableImage):
        await sandbox.read_in_child(big, "photo")


async def test_a_child_past_its_deadline_is_killed():
    with pytest.raises(UnreadableImage, match="in time"):
        await sandbox.read_in_child(selfie(), "photo", deadline_s=0.01)


def test_the_child_gets_no_secrets(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:secret")
    monkeypatch.setenv("REDIS_URL", "redis://:pw@localhost")
    env = sandbox.child_env()
    assert "TELEGRAM_BOT_TOKEN" not in env and "REDIS_URL" not in env and "PATH" in env


@pytest.mark.parametrize(
    "out",
    [
        b'{"sizes": [[2000, 10]]}\n' + b"\0" * 60000,  # larger than asked for
        b'{"sizes": [[10, 10]]}\n' + b"\0" * 299,  # pixels missing
        b"\x80\x04not json at all",  # a pickle is never read
        b"",
    ],
)
def test_what_the_child_writes_is_checked(out):
    with pytest.raises(UnreadableImage):
        sandbox._parse(out, 1280)


def test_a_well_formed_answer_is_read():
    buf = io.BytesIO()
    (image,) = sandbox._parse(b'{"sizes": [[2, 1]]}\n' + bytes([1, 2, 3, 4, 5, 6]), 1280)
    image.save(buf, "PNG")
    assert image.getpixel((1, 0)) == (4, 5, 6)
