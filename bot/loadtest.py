"""python -m bot.loadtest: a burst of photos from many users through the local Bot API.

The real bot and the fake server share one event loop here, so a monitor task on that loop sees
any stall the bot causes. Prints answered / busy / lost counts, reply latency, the longest loop
stall and the process's peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


async def burst(classifier, photos: int = 1000, users: int = 200, max_pending: int = 64) -> dict:
    from PIL import Image

    from .app import run
    from .config import Config
    from .fakeapi import FakeBotAPI

    fake = await FakeBotAPI().start()
    config = Config(
        token=fake.token,
        api_base_url=fake.api_base_url,
        file_base_url=fake.file_base_url,
        state_dir=Path(tempfile.mkdtemp(prefix="mirror-load-")),
        rate_limit=photos,
        max_pending=max_pending,
    )
    stop, ready = asyncio.Event(), asyncio.Event()
    bot = asyncio.create_task(run(config, classifier, stop, ready))
    await asyncio.wait_for(ready.wait(), 60)

    lag = {"max": 0.0}

    async def monitor():
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            lag["max"] = max(lag["max"], time.perf_counter() - t - 0.01)

    watcher = asyncio.create_task(monitor())
    rng = np.random.default_rng(0)
    contents = []
    for _ in range(16):  # a phone-sized photo each, re-used: Telegram would send distinct files
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).resize((1280, 960)).save(
            buf, "JPEG", quality=85
        )
        contents.append(buf.getvalue())
    sent_at = {}
    for i in range(photos):
        uid = 10_000 + i % users
        chat = {"id": uid, "type": "private", "first_name": f"user{uid}"}
        user = {"id": uid, "is_bot": False, "first_name": f"user{uid}"}
        message = fake.message(chat, user, photo=fake.photo_sizes(contents[i % len(contents)], 1280, 960))
        sent_at[message["message_id"]] = time.perf_counter()
        await fake.push(message)

    def answered(s):
        return (
            s.method in ("sendMessage", "sendPhoto") and s.message and s.message.get("reply_to_message_id") in sent_at
        )

    started = time.perf_counter()
    try:
        replies = await fake.wait_sent(answered, count=photos, timeout=max(120.0, photos * 0.5))
    finally:
        stop.set()
        await asyncio.wait_for(bot, 120)
        watcher.cancel()
        await fake.stop()
    per_message = {}
    for r in replies:
        per_message.setdefault(r.message["reply_to_message_id"], []).append(r)
    latencies = [min(x.at for x in rs) - sent_at[mid] for mid, rs in per_message.items()]
    busy = sum(1 for rs in per_message.values() if "busy" in (rs[0].params.get("text") or ""))
    return {
        "photos": photos,
        "users": users,
        "answered": len(per_message),
        "answered_twice": sum(len(rs) > 1 for rs in per_message.values()),
        "lost": photos - len(per_message),
        "scored": len(per_message) - busy,
        "busy": busy,
        "seconds": time.perf_counter() - started,
        "p50_reply_s": float(np.percentile(latencies, 50)),
        "p95_reply_s": float(np.percentile(latencies, 95)),
        "max_loop_stall_ms": lag["max"] * 1000,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bot.loadtest", description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", type=int, default=1000)
    p.add_argument("--users", type=int, default=200)
    p.add_argument("--max-pending", type=int, default=64, help="queue limit before 'busy' (default: %(default)s)")
    p.add_argument("--model", help="model folder (default: models/DEFAULT)")
    args = p.parse_args(argv)
    from classifier import Classifier

    t = time.perf_counter()
    classifier = Classifier.load(args.model)
    load_s = time.perf_counter() - t
    result = asyncio.run(burst(classifier, args.photos, args.users, args.max_pending))
    result["model_load_s"] = load_s
    print(json.dumps(result, indent=2))
    return 0 if result["lost"] == 0 and result["answered_twice"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
