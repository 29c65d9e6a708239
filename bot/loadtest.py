"""python -m bot.loadtest: a burst of photos from many users at the real bot, through the local Bot API.

The bot runs as its own process (``python -m bot``, exactly as deployed) against the fake Bot API
served from this one, so its start-up time, memory and event loop are measured on their own:
- start to ready: process start until it first polls for updates;
- start to first answer: a photo already waiting when the bot starts, until its reply;
- then ``--photos`` photos from ``--users`` users at once: every one must be answered exactly once
  (the rest wait in the bot's durable queue; nobody hears "busy"); reply latency p50/p95;
- ``--crash-after N``: the bot is SIGKILLed after N answers to the burst and started again; what it had
  recorded must still be answered, once;
- ``--albums N``: N more users each send an album of 5 photos in the burst; each album must get one answer;
- ``--faces DIR``: the photos are JPEGs from DIR (selfies: the person path) instead of the example cat
  (the pet path, which looks at the whole photo three ways and costs more CPU);
- the queue's depth (sampled from the bot's SQLite file), the bot's CPU time per photo, its longest
  event-loop stall (its own LoopWatch, logged when it stops) and peak RSS; reply p95 against the time
  Telegram's overall limit (30 messages/s) needs for all the answers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PHOTO_SIZE = (1280, 960)  # a phone photo's largest size as Telegram delivers it (the bot takes the 800 one)
ALBUM_SIZE = 5
TELEGRAM_PER_SECOND = 30  # the overall flood limit: the fastest any bot can answer a burst
STALL = re.compile(r"longest event-loop stall (\d+) ms, stalls over 100 ms: (\d+); peak memory (\d+) MiB")


async def burst(
    photos: int = 1000,
    users: int = 200,
    max_pending: int = 16,
    model_dir: str | Path | None = None,
    crash_after: int | None = None,
    albums: int = 0,
    faces: str | Path | None = None,
) -> dict:
    from .fakeapi import FakeBotAPI

    fake = await FakeBotAPI().start()
    # 16 photos re-used (Telegram would send distinct files), each in the sizes Telegram offers
    contents = await asyncio.to_thread(lambda: [_versions(p) for p in _photos(16, faces)])
    sent_at: dict[int, float] = {}
    album_firsts: set[int] = set()

    async def send_photo(i: int) -> None:
        uid = 10_000 + i % users
        chat = {"id": uid, "type": "private", "first_name": f"user{uid}"}
        user = {"id": uid, "is_bot": False, "first_name": f"user{uid}"}
        message = fake.message(chat, user, photo=fake.photo_versions(contents[i % len(contents)]))
        sent_at[message["message_id"]] = time.monotonic()
        await fake.push(message)

    async def send_album(i: int) -> None:
        uid = 90_000 + i
        chat = {"id": uid, "type": "private", "first_name": f"album{uid}"}
        user = {"id": uid, "is_bot": False, "first_name": f"album{uid}"}
        for k in range(ALBUM_SIZE):  # one update per photo, as Telegram sends an album
            photo = fake.photo_versions(contents[(i + k) % len(contents)])
            message = fake.message(chat, user, photo=photo, media_group_id=f"album-{i}")
            if k == 0:
                sent_at[message["message_id"]] = time.monotonic()
                album_firsts.add(message["message_id"])
            await fake.push(message)

    def reply_to_ours(s) -> bool:
        """An answer to one of our photos (a "#12 in line" note is not one: it is deleted when its turn comes)."""
        notice = (s.params.get("text") or "").startswith("⏳")
        return (
            s.method in ("sendMessage", "sendPhoto")
            and not notice
            and (s.message or {}).get("reply_to_message_id") in sent_at
        )

    state_dir = tempfile.mkdtemp(prefix="mirror-load-")
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.api_base_url,
        "TELEGRAM_FILE_BASE_URL": fake.file_base_url,
        "STATE_DIR": state_dir,
        "RATE_LIMIT": str(photos + albums + 1),  # this test is about the queue, not the per-user limit
        "MAX_PENDING": str(max_pending),
    }
    if model_dir:
        env["MODEL_DIR"] = str(model_dir)
    await send_photo(-1)  # waiting before the bot starts, as after a redeploy
    started = time.monotonic()
    log_lines: list[str] = []

    async def start_bot():
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        return proc, asyncio.create_task(_collect(proc.stdout, log_lines))

    bot, reader = await start_bot()
    crashed_at, cpu_before_crash = None, 0.0
    depth = _QueueDepth(Path(state_dir) / "mirror.sqlite3")
    total = photos + albums
    try:
        first = (await fake.wait_sent(reply_to_ours, count=1, timeout=120))[0]
        first_answer_s = first.at - started
        ready_s = fake.first_call["getUpdates"] - started
        depth.start()
        burst_start = time.monotonic()
        for i in range(max(photos, albums)):
            if i < albums:
                await send_album(i)
            if i < photos:
                await send_photo(i)
        if crash_after is not None:  # a deploy gone wrong, an out-of-memory kill: no goodbye
            await fake.wait_sent(reply_to_ours, count=1 + crash_after, timeout=max(180.0, total * 0.6))
            cpu_before_crash = _cpu_s(bot.pid)
            bot.kill()
            await bot.wait()
            await reader
            crashed_at = sum(1 for s in fake.sent if reply_to_ours(s)) - 1
            log_lines.clear()  # the second process's log is the one measured
            bot, reader = await start_bot()
        await fake.wait_sent(reply_to_ours, count=total + 1, timeout=max(180.0, total * 0.6))
        await asyncio.sleep(2.0)  # a second reply to any photo (or to an album's other photos) would show up here
        replies = [s for s in fake.sent if reply_to_ours(s)]
        seconds = max(s.at for s in replies) - burst_start
        peak_rss = _peak_rss_mib(bot.pid)
        cpu_s = cpu_before_crash + (_cpu_s(bot.pid) or 0.0)
    finally:
        await depth.stop()
        if bot.returncode is None:
            bot.send_signal(signal.SIGTERM)
        await asyncio.wait_for(bot.wait(), 60)
        await reader
        await fake.stop()
    notes = [s for s in fake.sent if s.method == "sendMessage" and (s.params.get("text") or "").startswith("⏳")]
    per_message: dict[int, list] = {}
    for r in replies:
        per_message.setdefault(r.message["reply_to_message_id"], []).append(r)
    per_message.pop(first.message["reply_to_message_id"])
    latencies = sorted(min(x.at for x in rs) - sent_at[mid] for mid, rs in per_message.items())
    album_replies = {mid: rs for mid, rs in per_message.items() if mid in album_firsts}
    flood_bound_s = total / TELEGRAM_PER_SECOND
    p95 = float(np.percentile(latencies, 95))
    busy = sum(1 for rs in per_message.values() if "busy" in (rs[0].params.get("text") or ""))
    stall = next((m for line in log_lines if (m := STALL.search(line))), None)
    if bot.returncode != 0 or stall is None:
        raise RuntimeError(f"the bot exited with {bot.returncode}; its last lines:\n" + "\n".join(log_lines[-20:]))
    return {
        "photos": photos,
        "users": users,
        "max_pending": max_pending,
        "start_to_ready_s": ready_s,
        "start_to_first_answer_s": first_answer_s,
        "albums": albums,
        "answered": len(per_message),
        "albums_answered": len(album_replies),
        "answered_twice": sum(len(rs) > 1 for rs in per_message.values()),
        "lost": total - len(per_message),
        "scored": len(per_message) - busy,
        "busy": busy,
        "seconds": seconds,
        "scored_per_s": (len(per_message) - busy) / seconds,
        "p50_reply_s": float(np.percentile(latencies, 50)),
        "p95_reply_s": p95,
        "flood_bound_s": flood_bound_s,
        "p95_over_flood_bound": p95 / flood_bound_s,
        "bot_cpu_s": cpu_s,
        "cpu_ms_per_photo": 1000 * cpu_s / (photos + albums * ALBUM_SIZE + 1),
        "cpu_bound_s": cpu_s / (os.cpu_count() or 1),
        "max_queue_depth": depth.peak,
        "max_loop_stall_ms": float(stall.group(1)),
        "loop_stalls_over_100ms": int(stall.group(2)),
        "bot_peak_rss_mib": peak_rss or float(stall.group(3)),
        "errors_logged": sum(" ERROR " in line for line in log_lines),
        "killed_after_answers": crashed_at,
        "place_in_line_notes": len(notes),
        "notes_left_in_chats": sum(not fake.was_deleted(n) for n in notes),
    }


def _photos(n: int, faces: str | Path | None) -> list[bytes]:
    """``n`` phone-sized JPEGs: the example cat made distinct, or selfies read from ``faces``."""
    if faces is None:
        from classifier.bench import make_photos

        return make_photos(n, PHOTO_SIZE)
    from PIL import Image

    files = sorted(p for p in Path(faces).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:n]
    if not files:
        raise RuntimeError(f"no JPEG or PNG photos in {faces}")
    out = []
    for path in files:
        image = Image.open(path).convert("RGB")
        image.thumbnail((PHOTO_SIZE[0], PHOTO_SIZE[0]))
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


class _QueueDepth:
    """Samples how many updates wait in the bot's SQLite queue (read-only, beside the bot)."""

    def __init__(self, path: Path, every_s: float = 0.5):
        self.path, self.every_s, self.peak = path, every_s, 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        import sqlite3

        while True:
            try:
                with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=1)) as db:
                    (n,) = db.execute("SELECT count(*) FROM updates WHERE state = 'pending'").fetchone()
                self.peak = max(self.peak, n)
            except sqlite3.Error:
                pass  # not created yet, or busy for a moment
            await asyncio.sleep(self.every_s)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds a live process has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _versions(photo: bytes) -> list[tuple[bytes, int, int]]:
    from PIL import Image

    image = Image.open(io.BytesIO(photo))
    out = [(photo, *image.size)]
    for side in (800, 320, 90):
        smaller = image.copy()
        smaller.thumbnail((side, side))
        buf = io.BytesIO()
        smaller.save(buf, "JPEG", quality=85)
        out.append((buf.getvalue(), *smaller.size))
    return out


async def _collect(stream, lines: list[str]) -> None:
    """Read the bot's log as it goes (a full pipe would block it); the photo never appears there."""
    async for raw in stream:
        lines.append(raw.decode(errors="replace").rstrip())


def _peak_rss_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bot.loadtest", description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", type=int, default=1000, help="photos in the burst (default: %(default)s)")
    p.add_argument("--users", type=int, default=200, help="distinct senders (default: %(default)s)")
    p.add_argument("--max-pending", type=int, default=16, help="photos handled at once (default: %(default)s)")
    p.add_argument("--model", help="model folder (default: models/DEFAULT)")
    p.add_argument(
        "--crash-after", type=int, metavar="N", help="SIGKILL the bot after N answers to the burst, then start it again"
    )
    p.add_argument("--albums", type=int, default=0, help="albums of 5 photos sent in the burst (default: none)")
    p.add_argument("--faces", metavar="DIR", help="send these JPEGs (selfies) instead of the example cat photo")
    args = p.parse_args(argv)
    try:
        result = asyncio.run(
            burst(args.photos, args.users, args.max_pending, args.model, args.crash_after, args.albums, args.faces)
        )
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: {exc or 'timed out waiting for replies'}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0 if result["lost"] == 0 and result["answered_twice"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
