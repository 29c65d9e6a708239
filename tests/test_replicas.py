"""Several replicas of the bot, each its own process (``python -m bot`` as deployed), behind one
webhook: the local Bot API delivers round-robin like a load balancer and skips a replica that is
down. State lives in a real redis-server; the same burst also runs against one replica on the
SQLite default."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.app import WEBHOOK_PATH
from bot.playground.fakeapi import FakeBotAPI
from tests.conftest import free_port, make_artifact
from tests.test_bot import GROUP, body, photo_bytes, private, user

pytestmark = pytest.mark.slow  # whole processes end to end: `-m "not slow"` leaves them to CI

ADMIN = 4242


class Replica:
    def __init__(self, name: str, env: dict, log_dir: Path):
        self.name, self.port, self.ops_port = name, free_port(), free_port()
        self.env = {
            **env,
            "PORT": str(self.port),
            "REPLICA_NAME": name,
            "LISTEN": "127.0.0.1",
            "HEALTH_PORT": str(self.ops_port),
        }
        self.log = log_dir / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ops(self) -> str:
        return f"http://127.0.0.1:{self.ops_port}"

    @property
    def webhook(self) -> str:
        return self.url + WEBHOOK_PATH

    async def start(self) -> Replica:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", env=self.env, stdout=out, stderr=asyncio.subprocess.STDOUT
            )
        return self

    async def ready(self, timeout: float = 90) -> dict:
        async with aiohttp.ClientSession() as session:
            for _ in range(int(timeout * 10)):
                if self.proc.returncode is not None:
                    raise RuntimeError(f"{self.name} exited: " + self.log.read_text()[-2000:])
                try:
                    async with session.get(self.ops + "/readyz") as r:
                        if r.status == 200:
                            return await r.json()
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready: " + self.log.read_text()[-2000:])

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 60)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@pytest.fixture
async def fake():
    server = await FakeBotAPI().start()
    yield server
    await server.stop()


def replica_env(fake, models_root: Path, state_dir: Path, redis_url: str | None, **extra) -> dict:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.api_base_url,
        "TELEGRAM_FILE_BASE_URL": fake.file_base_url,
        "WEBHOOK_URL": "https://mirror.example",  # the balancer's address: the fake delivers to each replica
        "WEBHOOK_SECRET": "derive",
        "MODELS_ROOT": str(models_root),
        "STATE_DIR": str(state_dir),
        "ADMIN_IDS": str(ADMIN),
        "RATE_LIMIT": "3",
        "RECLAIM_SECONDS": "3",
        **extra,
    }
    env.pop("MODEL_DIR", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


@pytest.fixture
def models_root(tmp_path):
    from classifier.card import set_default

    root = tmp_path / "models"
    set_default(root, make_artifact(root, "tiny-1", with_litert=True).name)
    return root


def is_reply(sent) -> bool:
    return sent.method in ("sendMessage", "sendPhoto")


def answers_to(fake, message_ids: set[int]) -> dict[int, list]:
    out: dict[int, list] = {}
    for s in fake.sent:
        if s.method in ("sendMessage", "sendPhoto") and not body(s).startswith("⏳"):
            replied = (s.message or {}).get("reply_to_message_id")
            if replied in message_ids:
                out.setdefault(replied, []).append(s)
    return out


async def until_answered(fake, sent: set[int], n: int, timeout: float, when: str) -> None:
    """Until ``n`` of the ``sent`` photos are answered; else a failure that names the unanswered ones."""
    try:
        await fake.wait_sent(lambda s: len(answers_to(fake, sent)) >= n, timeout=timeout)
    except TimeoutError:
        missing = sorted(sent - set(answers_to(fake, sent)))
        raise AssertionError(
            f"{when}: {len(sent) - len(missing)} of {len(sent)} photos answered in {timeout:.0f} s (wanted {n}); "
            f"unanswered message ids: {missing[:20]}{' ...' if len(missing) > 20 else ''}"
        ) from None


async def burst_with_a_kill(fake, replicas: list[Replica], photos: int = 300, users: int = 100) -> dict[int, list]:
    """``photos`` photos from ``users`` users, delivered round-robin; one replica SIGKILLed a third of
    the way through the answers. With no replica left, the killed one is started again."""
    sent = set()
    for i in range(photos):
        uid = 20_000 + i % users
        message = fake.message(private(uid), user(uid), photo=fake.photo_sizes(photo_bytes(i % 7)))
        sent.add(message["message_id"])
        await fake.push(message)

    await until_answered(fake, sent, photos // 3, 120, "before the kill")
    victim = replicas[-1]
    victim.kill()
    await victim.proc.wait()
    fake.balance([r.webhook for r in replicas if r is not victim] or [victim.webhook])
    if len(replicas) == 1:
        await victim.start()
        await victim.ready()
    await until_answered(fake, sent, photos, 180, "after the kill")
    await asyncio.sleep(2.0)  # a second answer to any photo would show up here
    return answers_to(fake, sent)


async def test_three_replicas_on_redis_share_queue_game_limits_and_model(fake, models_root, tmp_path, redis_url):
    from classifier.card import set_default

    env = replica_env(fake, models_root, tmp_path / "unused", redis_url)
    replicas = [Replica(f"r{i}", env, tmp_path) for i in range(3)]
    try:
        for r in replicas:
            await r.start()
        for r in replicas:
            assert (await r.ready())["model"] == "tiny-1"
        fake.balance([r.webhook for r in replicas])

        # a user's rate limit holds across replicas: 4 photos land on r0, r1, r2, r0
        ann = user(31, "Ann")
        sent = []
        for i in range(4):
            sent.append(fake.message(private(31), ann, photo=fake.photo_sizes(photo_bytes(i))))
            await fake.push(sent[-1], to=i % 3)
        await fake.wait_sent(lambda s: len(answers_to(fake, {m["message_id"] for m in sent})) == 4, timeout=60)
        texts = [body(a[0]) for a in answers_to(fake, {m["message_id"] for m in sent}).values()]
        assert sum(t.startswith("you are ") for t in texts) == 3 and sum("a lot of photos" in t for t in texts) == 1

        # the group's game is one game: /top is the same from every replica
        for i, name in enumerate(["Bo", "Cy", "Di"]):
            player = user(40 + i, name)
            message = fake.message(GROUP, player, photo=fake.photo_sizes(photo_bytes(10 + i)), caption="/mirror")
            await fake.push(message, to=i)
        await fake.wait_sent(lambda s: is_reply(s) and int(s.params["chat_id"]) == GROUP["id"], count=3, timeout=60)
        for i in range(3):
            top = fake.message(
                GROUP, user(40), text="/top", entities=[{"type": "bot_command", "offset": 0, "length": 4}]
            )
            await fake.push(top, to=i)
        boards = await fake.wait_sent(lambda s: body(s).startswith("🏆"), count=3, timeout=60)
        assert len({body(b) for b in boards}) == 1 and all(n in body(boards[0]) for n in ("Bo Lee", "Cy Lee", "Di Lee"))

        # /reload on one replica reaches all three, each after its own canary
        set_default(models_root, make_artifact(models_root, "tiny-2", seed=1, with_litert=True).name)
        command = fake.message(
            private(ADMIN), user(ADMIN), text="/reload", entities=[{"type": "bot_command", "offset": 0, "length": 7}]
        )
        await fake.push(command, to=1)
        (outcome,) = await fake.wait_sent(lambda s: is_reply(s) and int(s.params["chat_id"]) == ADMIN, timeout=60)
        assert "now serving tiny-2" in body(outcome)
        for _ in range(100):
            versions = [(await r.ready())["model"] for r in replicas]
            if versions == ["tiny-2"] * 3:
                break
            await asyncio.sleep(0.2)
        assert versions == ["tiny-2"] * 3

        # 300 photos, one replica SIGKILLed midway: every photo answered, once
        answers = await burst_with_a_kill(fake, replicas)
        assert len(answers) == 300 and all(len(a) == 1 for a in answers.values())
        assert {body(a[0]).split(" ")[0] for a in answers.values()} == {"you"}, {body(a[0]) for a in answers.values()}
        async with aiohttp.ClientSession() as session:
            async with session.get(replicas[0].ops + "/metrics") as r:
                metrics = await r.text()
        assert 'mirror_model_info{version="tiny-2"} 1.0' in metrics and "mirror_queue_depth 0.0" in metrics
    finally:
        for r in replicas:
            await r.stop()
    for r in replicas[:2]:
        assert " ERROR " not in r.log.read_text(), r.log.read_text()[-3000:]
        assert fake.token not in r.log.read_text()


async def test_the_same_burst_against_one_replica_on_sqlite(fake, models_root, tmp_path):
    replica = Replica("solo", replica_env(fake, models_root, tmp_path / "state", None, RATE_LIMIT="10"), tmp_path)
    try:
        await replica.start()
        await replica.ready()
        fake.balance([replica.webhook])
        answers = await burst_with_a_kill(fake, [replica])
        assert len(answers) == 300 and all(len(a) == 1 for a in answers.values())
        assert (await replica.ready())["store"] == "ok"
    finally:
        await replica.stop()
