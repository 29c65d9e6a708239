"""python -m bot.loadtest: a burst of photos from many users at the real bot, through the local Bot API.

The bot runs as its own process (``python -m bot``, exactly as deployed) against the fake Bot API
served from this one, so its start-up time, memory and event loop are measured on their own:
- start to ready: process start until it first polls for updates;
- start to first answer: a photo already waiting when the bot starts, until its reply;
- then ``--photos`` photos from ``--users`` users at once: every one must be answered exactly once
  (the rest wait in the bot's durable queue; nobody hears "busy"); reply latency p50/p95;
- ``--crash-after N``: the bot is SIGKILLed after N answers to the burst and started again; what it had
  recorded must still be answered, once;
- the bot's longest event-loop stall (its own LoopWatch, logged when it stops) and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
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
STALL = re.compile(r"longest event-loop stall (\d+) ms, stalls over 100 ms: (\d+); peak memory (\d+) MiB")


async def burst(
    photos: int = 1000,
    users: int = 200,
    max_pending: int = 64,
    model_dir: str | Path | None = None,
    crash_after: int | None = None,
) -> dict:
    from classifier.bench import make_photos

    from .fakeapi import FakeBotAPI

    fake = await FakeBotAPI().start()
    # 16 photos re-used (Telegram would send distinct files), each in the sizes Telegram offers
    contents = await asyncio.to_thread(lambda: [_versions(p) for p in make_photos(16, PHOTO_SIZE)])
    sent_at: dict[int, float] = {}

    async def send_photo(i: int) -> None:
        uid = 10_000 + i % users
        chat = {"id": uid, "type": "private", "first_name": f"user{uid}"}
        user = {"id": uid, "is_bot": False, "first_name": f"user{uid}"}
        message = fake.message(chat, user, photo=fake.photo_versions(contents[i % len(contents)]))
        sent_at[message["message_id"]] = time.monotonic()
        await fake.push(message)

    def reply_to_ours(s) -> bool:
        """An answer to one of our photos (a "#12 in line" note is not one: it is deleted when its turn comes)."""
        notice = (s.params.get("text") or "").startswith("⏳")
        return (
            s.method in ("sendMessage", "sendPhoto")
            and not notice
            and (s.message or {}).get("reply_to_message_id") in sent_at
        )

    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.api_base_url,
        "TELEGRAM_FILE_BASE_URL": fake.file_base_url,
        "STATE_DIR": tempfile.mkdtemp(prefix="mirror-load-"),
        "RATE_LIMIT": str(photos + 1),  # this test is about the queue limit, not the per-user one
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
    crashed_at = None
    try:
        first = (await fake.wait_sent(reply_to_ours, count=1, timeout=120))[0]
        first_answer_s = first.at - started
        ready_s = fake.first_call["getUpdates"] - started
        burst_start = time.monotonic()
        for i in range(photos):
            await send_photo(i)
        if crash_after is not None:  # a deploy gone wrong, an out-of-memory kill: no goodbye
            await fake.wait_sent(reply_to_ours, count=1 + crash_after, timeout=max(180.0, photos * 0.6))
            bot.kill()
            await bot.wait()
            await reader
            crashed_at = sum(1 for s in fake.sent if reply_to_ours(s)) - 1
            log_lines.clear()  # the second process's log is the one measured
            bot, reader = await start_bot()
        await fake.wait_sent(reply_to_ours, count=photos + 1, timeout=max(180.0, photos * 0.6))
        await asyncio.sleep(1.0)  # a second reply to any photo would show up here
        replies = [s for s in fake.sent if reply_to_ours(s)]
        seconds = max(s.at for s in replies) - burst_start
        peak_rss = _peak_rss_mib(bot.pid)
    finally:
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
    latencies = [min(x.at for x in rs) - sent_at[mid] for mid, rs in per_message.items()]
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
        "answered": len(per_message),
        "answered_twice": sum(len(rs) > 1 for rs in per_message.values()),
        "lost": photos - len(per_message),
        "scored": len(per_message) - busy,
        "busy": busy,
        "seconds": seconds,
        "scored_per_s": (len(per_message) - busy) / seconds,
        "p50_reply_s": float(np.percentile(latencies, 50)),
        "p95_reply_s": float(np.percentile(latencies, 95)),
        "max_loop_stall_ms": float(stall.group(1)),
        "loop_stalls_over_100ms": int(stall.group(2)),
        "bot_peak_rss_mib": peak_rss or float(stall.group(3)),
        "errors_logged": sum(" ERROR " in line for line in log_lines),
        "killed_after_answers": crashed_at,
        "place_in_line_notes": len(notes),
        "notes_left_in_chats": sum(not fake.was_deleted(n) for n in notes),
    }


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
    p.add_argument("--max-pending", type=int, default=64, help="photos handled at once (default: %(default)s)")
    p.add_argument("--model", help="model folder (default: models/DEFAULT)")
    p.add_argument(
        "--crash-after", type=int, metavar="N", help="SIGKILL the bot after N answers to the burst, then start it again"
    )
    args = p.parse_args(argv)
    try:
        result = asyncio.run(burst(args.photos, args.users, args.max_pending, args.model, args.crash_after))
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: {exc or 'timed out waiting for replies'}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0 if result["lost"] == 0 and result["answered_twice"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
