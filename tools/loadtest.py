"""python -m tools.loadtest: a burst of photos from many users at the real bot, through the local Bot API.

The bot runs as its own process (``python -m bot``, exactly as deployed) against the fake Bot API
served from this one, so its start-up time, memory and event loop are measured on their own:
- start to ready: process start until it first polls for updates;
- start to first answer: a photo already waiting when the bot starts, until its reply;
- then ``--photos`` photos from ``--users`` users at once: every one must be answered exactly once
  (the rest wait in the bot's durable queue; nobody hears "busy"); reply latency p50/p95;
- ``--crash-after N``: the bot is SIGKILLed after N answers to the burst and started again; what it had
  recorded must still be answered, once;
- ``--kill WHERE``: the SIGKILL at another moment: ``upload`` (as a result card's request reaches
  Telegram), ``flood`` (while it waits out a storm of 429s), ``album`` (while an album is being
  collected), ``group`` (while a group's answers wait in its outbox), ``random`` (each in turn over the runs, at
  a random moment); ``--runs N`` repeats the burst N times, each with its own seed, and adds up lost / twice;
- ``--albums N``: N more users each send an album of 5 photos in the burst; each album must get one answer;
- ``--groups N``: N group chats where 8 members each send a photo addressed to the bot; the bot gets
  3 messages per 10 s in a group (under Telegram's 20 a minute), so answers wait and leave merged;
- ``--replicas N``: N bot processes on one Redis (a throwaway redis-server, or ``--redis-url``) in
  webhook mode, delivered round-robin; ``--crash-after`` kills one and the others take over;
- ``--faces DIR``: the photos are JPEGs from DIR (selfies: the person path) instead of the example cat
  (the pet path, which looks at the whole photo three ways and costs more CPU);
- the queue's depth (sampled from the bot's SQLite file), the bot's CPU time per photo, its longest
  event-loop stall (its own LoopWatch, logged when it stops) and peak RSS; reply p95 against the time
  Telegram's overall limit (30 messages/s) needs for all the answers; the 429s the fake Bot API's flood
  control gave (Telegram's rule: over 30 messages in a second).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
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
KILLS = ("answers", "upload", "flood", "album", "group")
GROUP_SIZE = 8
GROUP_ALLOWANCE = (3, 10.0)  # messages per seconds in a group: under Telegram's 20 a minute, merging within seconds
# A note Telegram took this shortly before a SIGKILL may be one whose reply (its message id) the bot never
# read or never committed: no Bot API method finds a message again, so that note stays in its chat. Any
# other note left over is a bug in removing them.
NOTE_IN_FLIGHT_S = 1.0
STALL = re.compile(r"longest event-loop stall (\d+) ms, stalls over 100 ms: (\d+); peak memory (\d+) MiB")


async def burst(
    photos: int = 1000,
    users: int = 200,
    max_pending: int = 16,
    model_dir: str | Path | None = None,
    crash_after: int | None = None,
    albums: int = 0,
    faces: str | Path | None = None,
    replicas: int = 1,
    redis_url: str | None = None,
    kill: str | None = None,
    groups: int = 0,
    seed: int = 0,
) -> dict:
    from bot.playground.fakeapi import BOT_USER, FakeBotAPI
    from bot.texts import text

    rng = random.Random(seed)
    kill = kill or ("answers" if crash_after is not None else None)
    if kill is not None and crash_after is None:
        crash_after = rng.randint(3, max(4, (photos + albums + groups * GROUP_SIZE) // 3))
    if (kill == "album" and not albums) or (kill == "group" and not groups):
        raise RuntimeError(f"--kill {kill} needs --{kill}s")
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

    member_of: dict[int, str] = {}  # a group photo's message id -> its sender's (unique) name
    pushed: dict[str, float] = {}  # "album" / "group": when the first of them was pushed

    async def send_group_photo(g: int, k: int) -> None:
        chat = {"id": -(50_000 + g), "type": "group", "title": f"game {g}"}
        name = f"g{g}m{k}"
        user = {"id": 70_000 + 100 * g + k, "is_bot": False, "first_name": name}
        mention = "@" + BOT_USER["username"]
        entities = [{"type": "mention", "offset": 0, "length": len(mention)}]
        photo = fake.photo_versions(contents[(g + k) % len(contents)])
        message = fake.message(chat, user, photo=photo, caption=mention, caption_entities=entities)
        sent_at[message["message_id"]] = time.monotonic()
        member_of[message["message_id"]] = name
        await fake.push(message)

    merged_header = text("en", "merged")

    def answers_in(s) -> list[int]:
        """The photos a sent message answers: the one it replies to, or each line of a group's merged
        answer ("• g0m3, this one is ..."); a "#12 in line" note answers none (it is deleted when its
        turn comes)."""
        if s.method not in ("sendMessage", "sendPhoto"):
            return []
        body = s.params.get("text") or s.params.get("caption") or ""
        if body.startswith("⏳"):
            return []
        if body.startswith(merged_header):
            lines = body.splitlines()[1:]
            return [mid for mid, name in member_of.items() if any(ln.startswith(f"• {name},") for ln in lines)]
        reply = (s.message or {}).get("reply_to_message_id")
        return [reply] if reply in sent_at else []

    def reply_to_ours(s) -> bool:
        return bool(answers_in(s))

    answered: set[int] = set()
    looked_at = [0]  # fake.sent only grows: each message is read once, not on every poll

    def answered_count() -> int:
        for s in fake.sent[looked_at[0] :]:
            answered.update(answers_in(s))
        looked_at[0] = len(fake.sent)
        return len(answered)

    async def until(condition, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError
            await asyncio.sleep(0.05)

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
    if groups:
        env.update(GROUP_MESSAGES_PER_MINUTE=str(GROUP_ALLOWANCE[0]), GROUP_PERIOD_SECONDS=str(GROUP_ALLOWANCE[1]))
    if model_dir:
        env["MODEL_DIR"] = str(model_dir)
    redis = None
    if replicas > 1 or redis_url:  # replicas share Redis and sit behind one webhook, round-robin
        redis = None if redis_url else RedisServer().start()
        env.update(
            REDIS_URL=redis_url or redis.url,
            WEBHOOK_URL="https://mirror.example",
            WEBHOOK_SECRET="derive",
            RECLAIM_SECONDS="10",
        )
    bots = _Bots(env, replicas, webhook=redis is not None or bool(redis_url))
    total = photos + albums + groups * GROUP_SIZE
    depth = _QueueDepth(Path(state_dir) / "mirror.sqlite3", env.get("REDIS_URL"))
    crashed_at, first = None, None
    if not bots.webhook:
        await send_photo(-1)  # waiting before the bot starts, as after a redeploy
    started = time.monotonic()
    try:
        await bots.start_all()
        if bots.webhook:
            ready_s = await bots.ready() - started
            fake.balance(bots.webhooks())
            started = time.monotonic()
            await send_photo(-1)
        first = (await fake.wait_sent(reply_to_ours, count=1, timeout=120))[0]
        first_answer_s = first.at - started
        if not bots.webhook:
            ready_s = fake.first_call["getUpdates"] - started
        depth.start()
        burst_start = time.monotonic()
        for i in range(max(photos, albums, groups * GROUP_SIZE)):
            if i < albums:
                pushed.setdefault("album", time.monotonic())
                await send_album(i)
            if i < groups * GROUP_SIZE:
                pushed.setdefault("group", time.monotonic())
                await send_group_photo(i % groups, i // groups)
            if i < photos:
                await send_photo(i)
        wait_s = max(180.0, total * 0.6)
        if kill is not None:  # a deploy gone wrong, an out-of-memory kill: no goodbye
            crashed_at = await _kill_when(kill, crash_after, rng, fake, bots, answered_count, until, pushed, wait_s)
            if replicas == 1:
                await bots.restart_last()  # alone, it must answer what it had recorded itself
            else:
                fake.balance(bots.webhooks())  # the others take over what it held
        try:
            await until(lambda: answered_count() >= total + 1, wait_s)
        except TimeoutError:
            missing = sorted(set(sent_at) - answered - {first.message["reply_to_message_id"]})
            kinds = [member_of.get(m) or ("album" if m in album_firsts else "photo") for m in missing]
            raise RuntimeError(
                f"timed out: {answered_count() - 1} of {total} answered; unanswered {list(zip(missing, kinds))}; "
                f"requests dropped half-sent {fake.dropped} {fake.dropped_bodies}; "
                f"store {_states(Path(state_dir) / 'mirror.sqlite3')}; "
                "the last bot's last lines:\n" + "\n".join(bots.logs[-1][-15:])
            ) from None
        await asyncio.sleep(2.0)  # a second reply to any photo (or to an album's other photos) would show up here
        replies = [s for s in fake.sent if reply_to_ours(s)]
        seconds = max(s.at for s in replies) - burst_start
        peak_rss, cpu_s = bots.peak_rss_mib(), bots.cpu_s()
    finally:
        await depth.stop()
        await bots.stop_all()
        await fake.stop()
        if redis:
            redis.stop()
    notes = [s for s in fake.sent if s.method == "sendMessage" and (s.params.get("text") or "").startswith("⏳")]
    left = [n for n in notes if not fake.was_deleted(n)]
    per_message: dict[int, list] = {}
    for r in replies:
        for mid in answers_in(r):
            per_message.setdefault(mid, []).append(r)
    per_message.pop(first.message["reply_to_message_id"])
    latencies = sorted(min(x.at for x in rs) - sent_at[mid] for mid, rs in per_message.items())
    album_replies = {mid: rs for mid, rs in per_message.items() if mid in album_firsts}
    flood_bound_s = total / TELEGRAM_PER_SECOND
    p95 = float(np.percentile(latencies, 95))
    busy_text = text("en", "busy")
    busy = sum(1 for rs in per_message.values() if (rs[0].params.get("text") or "") == busy_text)
    stalls = bots.stalls()
    return {
        "photos": photos,
        "users": users,
        "replicas": replicas,
        "store": "redis" if "REDIS_URL" in env else "sqlite",
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
        "max_loop_stall_ms": max(float(m.group(1)) for m in stalls),
        "loop_stalls_over_100ms": sum(int(m.group(2)) for m in stalls),
        "bot_peak_rss_mib": peak_rss or max(float(m.group(3)) for m in stalls),
        "errors_logged": bots.errors(),
        "groups": groups,
        "groups_answered": sum(mid in per_message for mid in member_of),
        "merged_answers": sum(1 for r in replies if len(answers_in(r)) > 1),
        "kill": kill,
        "killed_after_answers": crashed_at,
        "flood_control_429s": fake.floods,
        "place_in_line_notes": len(notes),
        "notes_left_in_chats": len(left),
        # when each note left in a chat reached Telegram, in seconds before the kill (negative: after)
        "notes_left_before_kill_s": [round(bots.killed_at - n.at, 3) for n in left if bots.killed_at],
        "notes_left_not_in_flight": sum(
            not (bots.killed_at and 0 <= bots.killed_at - n.at <= NOTE_IN_FLIGHT_S) for n in left
        ),
    }


def _states(path: Path) -> dict:
    """How many updates the SQLite store holds in each state (pending, taken, done)."""
    import sqlite3

    if not path.exists():
        return {}
    with contextlib.closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT state, count(*) FROM updates GROUP BY state").fetchall())


async def _kill_when(kind, after, rng, fake, bots, answered, until, pushed, wait_s) -> int:
    """SIGKILL the last bot process at the moment ``kind`` names; returns the answers sent before it."""
    if kind == "album":
        await asyncio.sleep(max(0.0, pushed["album"] + rng.uniform(0.1, 1.5) - time.monotonic()))
    elif kind == "group":  # a group has spent its allowance: the next answers wait in its outbox

        def group_answers() -> int:
            return sum(s.method in ("sendMessage", "sendPhoto") and int(s.params["chat_id"]) < 0 for s in fake.sent)

        await until(lambda: group_answers() >= GROUP_ALLOWANCE[0], wait_s)
        await asyncio.sleep(rng.uniform(0.0, GROUP_ALLOWANCE[1]))
    else:
        await until(lambda: answered() >= 1 + after, wait_s)
    if kind == "upload":  # the next result card's request: the bot dies as it reaches Telegram
        died = asyncio.Event()

        async def die():
            await bots.kill_last()
            died.set()

        fake.hooks["sendPhoto"] = die
        await asyncio.wait_for(died.wait(), wait_s)
        return answered() - 1
    if kind == "flood":  # a storm of 429s: killed while the bot waits out retry_after
        before = fake.injected
        for method in ("sendPhoto", "sendMessage"):
            fake.fail_next(method, status=429, times=6, retry_after=2)
        await until(lambda: fake.injected > before, wait_s)
        await asyncio.sleep(rng.uniform(0.0, 2.0))
    await bots.kill_last()
    return answered() - 1


class _Bots:
    """The bot processes (``python -m bot``, as deployed), their logs, CPU and memory."""

    def __init__(self, env: dict, n: int, webhook: bool):
        self.env, self.n, self.webhook = env, n, webhook
        self.procs: list = [None] * n
        self.ports = [_free_port() for _ in range(n)]
        self.health_ports = [_free_port() for _ in range(n)]
        self.logs: list[list[str]] = [[] for _ in range(n)]
        self.readers: list = [None] * n
        self.measured_logs: list[list[str]] = []  # of processes that ended
        self.cpu_ended, self.rss_ended = 0.0, 0.0
        self.killed_at: float | None = None

    def webhooks(self) -> list[str]:
        return [f"http://127.0.0.1:{port}/telegram" for port, proc in zip(self.ports, self.procs) if proc]

    async def start(self, i: int) -> None:
        env = {**self.env, "REPLICA_NAME": f"r{i}", "HEALTH_PORT": str(self.health_ports[i])}
        if self.webhook:
            env.update(PORT=str(self.ports[i]), LISTEN="127.0.0.1")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        self.procs[i], self.logs[i] = proc, []
        self.readers[i] = asyncio.create_task(_collect(proc.stdout, self.logs[i]))

    async def start_all(self) -> None:
        for i in range(self.n):
            await self.start(i)

    async def ready(self, timeout: float = 120.0) -> float:
        """When every replica answers /readyz (time.monotonic())."""
        import aiohttp

        async with aiohttp.ClientSession() as session:
            for i, (port, proc) in enumerate(zip(self.health_ports, self.procs)):
                for _ in range(int(timeout * 20)):
                    if proc.returncode is not None:
                        raise RuntimeError("a replica exited at start:\n" + "\n".join(self.logs[i][-20:]))
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/readyz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.05)
        return time.monotonic()

    async def kill_last(self) -> None:
        proc = self.procs[-1]
        self.cpu_ended += _cpu_s(proc.pid) or 0.0
        self.rss_ended = max(self.rss_ended, _peak_rss_mib(proc.pid) or 0.0)
        proc.kill()
        self.killed_at = time.monotonic()
        await proc.wait()
        await self.readers[-1]
        self.procs[-1] = None

    async def restart_last(self) -> None:
        await self.start(self.n - 1)

    def peak_rss_mib(self) -> float:
        return max([self.rss_ended] + [_peak_rss_mib(p.pid) or 0.0 for p in self.procs if p])

    def cpu_s(self) -> float:
        return self.cpu_ended + sum(_cpu_s(p.pid) or 0.0 for p in self.procs if p)

    async def stop_all(self) -> None:
        for i, proc in enumerate(self.procs):
            if proc is None:
                continue
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 60)
            await self.readers[i]
            if proc.returncode != 0:
                raise RuntimeError(
                    f"a bot exited with {proc.returncode}; its last lines:\n" + "\n".join(self.logs[i][-20:])
                )
            self.measured_logs.append(self.logs[i])

    def stalls(self) -> list:
        found = [next((m for line in log if (m := STALL.search(line))), None) for log in self.measured_logs]
        if not found or None in found:
            raise RuntimeError("a bot did not log its summary when it stopped")
        return found

    def errors(self) -> int:
        return sum(" ERROR " in line for log in self.measured_logs for line in log)


class RedisServer:
    """A throwaway redis-server on a free loopback port (Debian's ``redis-server`` package), nothing
    saved to disk; the load test's replicas and the test suite use it."""

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        import shutil
        import socket
        import subprocess

        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server), or pass --redis-url")
        self.port, self.dir = _free_port(), tempfile.mkdtemp(prefix="mirror-redis-")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _photos(n: int, faces: str | Path | None) -> list[bytes]:
    """``n`` phone-sized JPEGs: the example cat made distinct, or selfies read from ``faces``."""
    if faces is None:
        from tools.bench import make_photos

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
    """Samples how many updates wait in the bot's queue (its SQLite file read-only, or Redis)."""

    def __init__(self, path: Path, redis_url: str | None = None, every_s: float = 0.5):
        self.path, self.redis_url, self.every_s, self.peak = path, redis_url, every_s, 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            n = await (self._redis() if self.redis_url else asyncio.to_thread(self._sqlite))
            self.peak = max(self.peak, n or 0)
            await asyncio.sleep(self.every_s)

    def _sqlite(self) -> int | None:
        import sqlite3

        try:
            with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=1)) as db:
                return db.execute("SELECT count(*) FROM updates WHERE state = 'pending'").fetchone()[0]
        except sqlite3.Error:
            return None  # not created yet, or busy for a moment

    async def _redis(self) -> int:
        from bot.store.redis import RedisStore

        store = RedisStore(self.redis_url, consumer="loadtest-observer")
        try:
            return await store.queued()
        finally:
            await store.close()

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
    p = argparse.ArgumentParser(prog="python -m tools.loadtest", description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", type=int, default=1000, help="photos in the burst (default: %(default)s)")
    p.add_argument("--users", type=int, default=200, help="distinct senders (default: %(default)s)")
    p.add_argument("--max-pending", type=int, default=16, help="photos handled at once (default: %(default)s)")
    p.add_argument("--model", help="model folder (default: models/DEFAULT)")
    p.add_argument(
        "--crash-after", type=int, metavar="N", help="SIGKILL the bot after N answers to the burst, then start it again"
    )
    p.add_argument("--albums", type=int, default=0, help="albums of 5 photos sent in the burst (default: none)")
    p.add_argument("--faces", metavar="DIR", help="send these JPEGs (selfies) instead of the example cat photo")
    p.add_argument(
        "--replicas", type=int, default=1, help="bot processes on one Redis behind a round-robin webhook (default: 1)"
    )
    p.add_argument("--redis-url", help="use this Redis (default with --replicas > 1: a throwaway redis-server)")
    p.add_argument("--kill", choices=[*KILLS, "random"], help="SIGKILL the bot at this moment (see above)")
    p.add_argument("--groups", type=int, default=0, help="group chats of 8 players in the burst (default: none)")
    p.add_argument("--runs", type=int, default=1, help="repeat the burst, each run its own kill (default: 1)")
    args = p.parse_args(argv)
    results = []
    for run in range(args.runs):
        kill = args.kill
        if kill == "random":  # every kind in turn, each at a random moment (seeded by the run)
            kinds = [k for k in KILLS if (k != "album" or args.albums) and (k != "group" or args.groups)]
            kill = kinds[run % len(kinds)]
        try:
            result = asyncio.run(
                burst(
                    args.photos,
                    args.users,
                    args.max_pending,
                    args.model,
                    args.crash_after,
                    args.albums,
                    args.faces,
                    args.replicas,
                    args.redis_url,
                    kill,
                    args.groups,
                    seed=run,
                )
            )
        except (RuntimeError, TimeoutError) as exc:
            print(f"error: {str(exc) or 'timed out waiting for replies'}", file=sys.stderr)
            return 1
        results.append(result)
        if args.runs > 1:
            print(
                f"run {run + 1}: kill {result['kill']} after {result['killed_after_answers']} answers: "
                f"{result['answered']} answered, {result['lost']} lost, {result['answered_twice']} twice, "
                f"{result['flood_control_429s']} flood-control 429s, "
                f"{result['notes_left_in_chats']} of {result['place_in_line_notes']} place-in-line notes left "
                f"{result['notes_left_before_kill_s']}",
                flush=True,
            )
    if args.runs == 1:
        print(json.dumps(results[0], indent=2))
    else:
        print(json.dumps(over_runs(results), indent=2))
    return 0 if all(r["lost"] == 0 and r["answered_twice"] == 0 for r in results) else 1


def over_runs(results: list[dict]) -> dict:
    return {
        "runs": len(results),
        "kills": {k: sum(r["kill"] == k for r in results) for k in KILLS if any(r["kill"] == k for r in results)},
        "photos_per_run": results[0]["photos"] + results[0]["albums"] + results[0]["groups"] * GROUP_SIZE,
        "lost": sum(r["lost"] for r in results),
        "answered_twice": sum(r["answered_twice"] for r in results),
        "flood_control_429s": sum(r["flood_control_429s"] for r in results),
        "notes_left_in_chats": sum(r["notes_left_in_chats"] for r in results),
        "notes_left_not_in_flight": sum(r["notes_left_not_in_flight"] for r in results),
        "errors_logged": sum(r["errors_logged"] for r in results),
        "worst_p95_over_flood_bound": max(r["p95_over_flood_bound"] for r in results),
    }


if __name__ == "__main__":
    sys.exit(main())
