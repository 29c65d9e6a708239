"""Shared fixtures: a small real Keras model artifact exported through the training code path,
and image bytes made in memory."""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest
from PIL import Image


def jpeg_bytes(image: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def half_image(size=(64, 48), left=(250, 250, 250), right=(0, 0, 0)) -> Image.Image:
    """Left half one colour, right half another: rotation visibly changes it."""
    arr = np.zeros((size[1], size[0], 3), np.uint8)
    arr[:, : size[0] // 2] = left
    arr[:, size[0] // 2 :] = right
    return Image.fromarray(arr)


def make_artifact(
    root: Path, version: str = "tiny-1", labels=("cat", "dog"), seed: int = 0, with_litert: bool = False
) -> Path:
    """Build, export and return a tiny random-weight artifact via the real export code."""
    from classifier import ModelCard
    from training.export import DISPLAY, EMOJI, export
    from training.transfer import TransferClassifier

    model = TransferClassifier("tiny_cnn", classes=len(labels), weights=None, seed=seed).build()
    card = ModelCard(
        version=version,
        labels=list(labels),
        display_names={l: DISPLAY.get(l, l) for l in labels},
        emoji={l: EMOJI[l] for l in labels if l in EMOJI},
        input_size=32,
        backbone="tiny_cnn",
        temperature=1.0,
        metrics={"test": {"accuracy": 0.5, "log_loss": 0.69}},
    )
    return export(model, card, root, with_litert=with_litert)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from classifier.card import set_default

    root = tmp_path_factory.mktemp("models")
    path = make_artifact(root, with_litert=True)  # serves through LiteRT, like the shipped model
    set_default(root, path.name)
    return path


@pytest.fixture(scope="session")
def tiny_classifier(tiny_model_dir):
    from classifier import Classifier

    return Classifier.load(tiny_model_dir)


@pytest.fixture(scope="session")
def redis_server():
    """A real redis-server (Debian's package; .ci/run installs it) on a free loopback port."""
    import shutil

    from tools.loadtest import RedisServer

    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; .ci/run installs it (apt-get install redis-server)")
        pytest.skip("redis-server is not installed here (apt-get install redis-server); CI installs it")
    server = RedisServer().start()
    yield server.url
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    """The real server, emptied for each test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


def face_clip(fmt: str = "mp4", frames: int = 30, side: int = 384, fps: int = 15) -> bytes:
    """A round-video-note-like clip of a real face (scikit-image's astronaut) moving a little,
    with sensor noise, encoded in memory (PyAV): MP4 (H.264), WebM (VP8) or an animated GIF."""
    import av
    import skimage.data

    face = Image.fromarray(skimage.data.astronaut()[0:330, 40:370])
    rng = np.random.default_rng(1)
    out = io.BytesIO()
    codec = {"mp4": "libx264", "webm": "libvpx", "gif": "gif"}[fmt]
    with av.open(out, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width = stream.height = side
        stream.pix_fmt = "rgb8" if fmt == "gif" else "yuv420p"
        for i in range(frames):
            dx, dy = 8 * np.sin(i / 4), 6 * np.cos(i / 5)
            frame = face.rotate(3 * np.sin(i / 6), translate=(dx, dy)).resize((side, side))
            noisy = np.clip(np.asarray(frame, np.int16) + rng.integers(-6, 7, (side, side, 3)), 0, 255)
            for packet in stream.encode(av.VideoFrame.from_ndarray(noisy.astype(np.uint8), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def one_keyframe_clip(frames: int, side: int = 64, fps: int = 30) -> bytes:
    """H.264 with a keyframe at the start only: every later frame needs all the frames before it."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        stream.options = {"g": "1000000", "keyint_min": "1000000", "sc_threshold": "0", "preset": "ultrafast"}
        base = np.random.default_rng(0).integers(0, 255, (side, side, 3), dtype=np.uint8)
        for i in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.roll(base, i, axis=1), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


@pytest.fixture(params=["sqlite", "redis"])
async def store(request, tmp_path):
    """Each store backend, for a test to hold to the same interface: SQLite on a file, a real redis-server."""
    from bot.store import open_store

    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    s = open_store(tmp_path, url)
    yield s
    await s.close()
