"""Hostile files, and the real bot process facing them: what a stranger sends a public bot to take it
down or read its files. Each file is built here, in memory (none is kept in the repository).

``attack()`` runs ``python -m bot`` against the fake Bot API, sends files from as many users at the
same moment (as documents, or as what they pretend to be), then a plain photo, and samples the RSS
of the bot's whole process tree (children included) while it answers."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import one_keyframe_clip

ROOT = Path(__file__).resolve().parent.parent


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int, depth: int = 8, colour: int = 0) -> bytes:
    """A PNG whose header claims a size its few bytes of data never fill."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def float_tiff() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.linspace(0, 1, 300 * 300, dtype=np.float32).reshape(300, 300), "F").save(buf, "TIFF")
    return buf.getvalue()


# name -> (bytes, how it is sent: "document" with a MIME type, or "video")
def corpus() -> dict[str, tuple[bytes, str]]:
    return {
        "grey16_7000": (png(Image.new("I;16", (7000, 7000))), "image/png"),
        "rgba_7000": (png(Image.new("RGBA", (7000, 7000), (0, 0, 0, 0))), "image/png"),
        "strip_1x40M": (png_header_only(1, 40_000_000), "image/png"),
        "float_tiff": (float_tiff(), "image/tiff"),
        "one_keyframe_6000": (one_keyframe_clip(6000), "video/mp4"),  # each frame needs all before it
        # FFmpeg's concat demuxer, probed from the content, would open a file of the bot's folder
        "ffconcat": (b"ffconcat version 1.0\nfile 'models/examples/cat.jpg'\n", "video/mp4"),
    }


def more() -> dict[str, tuple[bytes, str]]:
    """Beyond the six: other ways in."""
    return {
        "hls_playlist": (b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nmodels/examples/cat.jpg\n", "video/mp4"),
        "eps": (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n", "image/x-eps"),
        "palette_7000": (png(Image.new("P", (7000, 7000))), "image/png"),
        "png_claims_100000": (png_header_only(100_000, 100_000, colour=2), "image/png"),
        "webp_as_gif": (b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 40, "image/gif"),
    }


def _tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, now."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(status.split("VmRSS:")[1].split()[0])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total / 1024


async def attack(files: dict[str, tuple[bytes, str]], plain: bytes, timeout: float = 60.0) -> dict:
    """Send each file from its own user at once, then ``plain`` from another; the bot's answers,
    when each came, its process tree's peak RSS (before and during), and whether it stayed up."""
    from bot.playground.fakeapi import FakeBotAPI

    fake = await FakeBotAPI().start()
    state_dir = tempfile.mkdtemp(prefix="mirror-hostile-")
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.api_base_url,
        "TELEGRAM_FILE_BASE_URL": fake.file_base_url,
        "STATE_DIR": state_dir,
        "HEALTH_PORT": "0",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    log: list[str] = []

    async def collect():
        async for raw in proc.stdout:
            log.append(raw.decode(errors="replace").rstrip())

    reader = asyncio.create_task(collect())
    peak = [0.0]

    async def sample():
        while True:
            peak[0] = max(peak[0], _tree_rss_mib(proc.pid))
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    try:
        while "ready:" not in "\n".join(log):
            if proc.returncode is not None:
                raise RuntimeError("the bot exited at start:\n" + "\n".join(log[-20:]))
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        idle = _tree_rss_mib(proc.pid)
        users = {name: 20_000 + i for i, name in enumerate(files)}
        sent_at = time.monotonic()
        for name, (content, mime) in files.items():
            uid = users[name]
            chat, user = {"id": uid, "type": "private"}, {"id": uid, "is_bot": False, "first_name": name[:32]}
            document = fake.media(content, mime_type=mime, file_name=name)
            await fake.push(fake.message(chat, user, document=document))
        plain_uid = 29_999
        chat = {"id": plain_uid, "type": "private"}
        user = {"id": plain_uid, "is_bot": False, "first_name": "plain"}
        plain_at = time.monotonic()
        await fake.push(fake.message(chat, user, photo=fake.photo_sizes(plain)))
        everyone = [*users.values(), plain_uid]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(fake.replies_to(u) for u in everyone):
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # a second answer to anyone would show up here

        def answers(uid):
            return [
                (s.params.get("text") or s.params.get("caption") or "", s.at - sent_at) for s in fake.replies_to(uid)
            ]

        alive = proc.returncode is None
        plain_answers = [(text, at - (plain_at - sent_at)) for text, at in answers(plain_uid)]
        return {
            "alive": alive,
            "idle_rss_mib": idle,
            "peak_tree_rss_mib": peak[0],
            "answers": {name: answers(uid) for name, uid in users.items()},
            "plain": plain_answers,
            "log": log,
        }
    finally:
        sampler.cancel()
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await reader
        await fake.stop()


def main() -> int:
    """python -m tests.hostile: the six files and the others, through the bot, printed side by side."""
    plain = (ROOT / "models" / "examples" / "cat.jpg").read_bytes()
    result = asyncio.run(attack({**corpus(), **more()}, plain))
    print(
        f"alive: {result['alive']}  idle RSS {result['idle_rss_mib']:.0f} MiB  peak {result['peak_tree_rss_mib']:.0f}"
    )
    for name, answers in result["answers"].items():
        shown = "; ".join(f"{at:.1f}s {text[:90]!r}" for text, at in answers) or "NO ANSWER"
        print(f"{name:>20}: {shown}")
    print(f"{'plain photo':>20}: " + "; ".join(f"{at:.1f}s {text[:60]!r}" for text, at in result["plain"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
