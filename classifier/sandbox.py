"""Reading a file that may already have killed a process: in a child process with an address-space
limit, a CPU limit and a deadline, so the worst it can do is end the child.

The budgets in ``images`` and ``clips`` hold every file known to hurt; this is for the file nobody
has thought of yet. The bot uses it for an update taken again after a crash (``bot/scoring.py``):
if that file is what killed the last process, it now kills only the child, and its sender hears
"I couldn't read that" instead of the bot restarting with the same file on every replica.

The child writes raw pixels behind a JSON header, never a pickle: what a hijacked decoder could
write is read as numbers, checked against the sizes the bot asked for.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys

from PIL import Image

from .images import UnreadableImage

MEMORY = 1 << 30  # the child's address space: Python, PyAV, one decode inside DECODE_BUDGET
DEADLINE_S = 30.0
MAX_SIDE = 1280  # no frame a reader returns is larger (selfie.WORK_SIDE; clips' frames are smaller)
MAX_IMAGES = 16
FAILED = "I couldn't read it safely"


def child_env() -> dict[str, str]:
    """What the child needs to start Python, and nothing else (no token, no store's address)."""
    keep = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONPATH", "HOME", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep}


async def read_in_child(data: bytes, kind: str, side: int = MAX_SIDE, deadline_s: float = DEADLINE_S):
    """``kind`` "photo": one upright RGB image at most ``side``; "clip": the clip's sampled frames.
    Raises ``UnreadableImage`` when the file is unreadable, or the child dies or overruns."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "classifier.sandbox",
        kind,
        str(side),
        str(MEMORY),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=child_env(),
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(bytes(data)), deadline_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise UnreadableImage(FAILED + " in time") from None
    if process.returncode != 0:
        raise UnreadableImage(FAILED)
    images = _parse(out, side)
    return images[0] if kind == "photo" else images


def _parse(out: bytes, side: int) -> list[Image.Image]:
    head, _, pixels = out.partition(b"\n")
    try:
        header = json.loads(head)
        error = header.get("error")
        sizes = [(int(w), int(h)) for w, h in header["sizes"]] if error is None else []
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnreadableImage(FAILED) from exc
    if error is not None:
        raise UnreadableImage(str(error)[:200])
    if not 0 < len(sizes) <= MAX_IMAGES or any(not (0 < w <= side and 0 < h <= side) for w, h in sizes):
        raise UnreadableImage(FAILED)
    if len(pixels) != sum(3 * w * h for w, h in sizes):
        raise UnreadableImage(FAILED)
    images, at = [], 0
    for w, h in sizes:
        images.append(Image.frombytes("RGB", (w, h), pixels[at : at + 3 * w * h]))
        at += 3 * w * h
    return images


def _child(kind: str, side: int, memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(DEADLINE_S) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    data = sys.stdin.buffer.read()
    try:
        if kind == "photo":
            from .images import load_photo

            images = [load_photo(data, side)]
        else:
            from .clips import sample_frames

            images = sample_frames(data)
    except UnreadableImage as exc:
        sys.stdout.buffer.write(json.dumps({"error": str(exc)}).encode() + b"\n")
        return
    images = [image.convert("RGB") for image in images]
    header = json.dumps({"sizes": [image.size for image in images]}).encode()
    sys.stdout.buffer.write(header + b"\n" + b"".join(image.tobytes() for image in images))


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
