"""The image as built from the Dockerfile by .ci/image (CI builds it first), its own CMD run the way a
container runtime runs it (the image's user, working folder and environment; the state folder on a volume)
against the fake Bot API: ready and healthy, a photo answered, SIGTERM leaving the queue intact, and a
recreated container answering what the old one left."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from bot.playground.fakeapi import FakeBotAPI
from tests.conftest import free_port
from tests.test_bot import body, photo_bytes, private, user

IMAGE = os.environ.get("MIRROR_IMAGE", "localhost/mirror-mirror:ci")
ROOT = Path(__file__).resolve().parent.parent
ADMIN = 4242
ENV = {**os.environ, "STORAGE_DRIVER": "vfs", "BUILDAH_ISOLATION": "chroot"}


def _image_config() -> dict | None:
    if not shutil.which("buildah"):
        return None
    found = subprocess.run(["buildah", "inspect", "--type", "image", IMAGE], capture_output=True, env=ENV)
    return json.loads(found.stdout)["OCIv1"]["config"] if found.returncode == 0 else None


CONFIG = _image_config()
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
HEALTHCHECK = DOCKERFILE.split("HEALTHCHECK", 1)[1].split("CMD ", 1)[1].split("\n#", 1)[0].replace("\\\n", " ").strip()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CONFIG is None, reason=f"no {IMAGE}: `bash .ci/image` builds it (CI does)"),
]


class Container:
    """One container of the image: its CMD, as its user, in its working folder, with its environment."""

    def __init__(self, state, env: dict, models):
        self.state, self.env, self.models = state, env, models
        self.name = subprocess.run(
            ["buildah", "from", "--quiet", IMAGE], capture_output=True, text=True, env=ENV, check=True
        ).stdout.strip()
        self.proc = None

    def start(self) -> None:
        # the state at a path of its own: buildah mounts the image's VOLUME /home/mirror/state and a --volume
        # given for the same path in either order (docker does not); the image's STATE_DIR is checked apart
        args = ["buildah", "run", "--volume", f"{self.state}:/state", "--volume", f"{self.models}:/app/models:ro"]
        args += ["--env", "STATE_DIR=/state"]
        for key, value in self.env.items():
            args += ["--env", f"{key}={value}"]
        self.proc = subprocess.Popen(
            [*args, self.name, "--", *CONFIG["Cmd"]], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    def healthy(self) -> bool:
        """The image's HEALTHCHECK command, run inside the container as a runtime runs it."""
        check = subprocess.run(
            ["buildah", "run", self.name, "--", "sh", "-c", HEALTHCHECK], env=ENV, capture_output=True, timeout=30
        )
        return check.returncode == 0

    def stop(self, timeout: float = 60) -> tuple[int, str]:
        """SIGTERM to the container's own process, as a runtime stops a container (buildah would kill it)."""
        os.kill(self._cmd_pid(), signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code, self.proc.stdout.read().decode(errors="replace")

    def _cmd_pid(self) -> int:
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            with contextlib.suppress(OSError):
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if command[0].rsplit(b"/", 1)[-1].startswith(b"python") and command[1:3] == [b"-m", b"bot"]:
                    return pid
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
        raise AssertionError("the container's process is gone")

    def remove(self) -> None:
        """The container's process first: killing buildah alone would leave it running."""
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(AssertionError, ProcessLookupError):
                os.kill(self._cmd_pid(), signal.SIGKILL)
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["buildah", "rm", self.name], capture_output=True, env=ENV)


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


async def until_ready(port: int, container: Container, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if container.proc.poll() is not None:
            raise AssertionError("the container exited: " + container.proc.stdout.read().decode()[-3000:])
        try:
            status, ready = get(port, "/readyz")
            if status == 200:
                return ready
        except OSError:
            pass
        await asyncio.sleep(0.5)
    raise AssertionError("the container never became ready")


async def test_the_image_serves_reports_health_and_keeps_its_queue_across_containers(tmp_path):
    assert CONFIG["User"] == "mirror" and CONFIG["Cmd"] == ["python", "-m", "bot"]
    assert "STATE_DIR=/home/mirror/state" in CONFIG["Env"] and "/home/mirror/state" in CONFIG["Volumes"]
    with socket.socket() as probe:  # the image's health port must be this container's, not a leftover's
        assert probe.connect_ex(("127.0.0.1", 9090)) != 0, "something already listens on 127.0.0.1:9090"
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 10001, 10001)  # the volume belongs to the image's user (the Dockerfile's uid)
    models = tmp_path / "models"  # mounted over the baked-in ones, as docs/operations.md says
    shutil.copytree(ROOT / "models", models)
    fake = await FakeBotAPI().start()
    ops = 9090  # the image's own HEALTH_PORT, which its HEALTHCHECK asks
    env = {
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.api_base_url,
        "TELEGRAM_FILE_BASE_URL": fake.file_base_url,
        "ADMIN_IDS": str(ADMIN),
    }
    first = Container(state, env, models)
    second = None
    try:
        first.start()
        ready = await until_ready(ops, first)
        assert ready["store"] == "ok" and ready["model"] == (await asyncio.to_thread(_default_model))
        assert get(ops, "/healthz")[0] == 200 and first.healthy()
        await fake.push(fake.message(private(7), user(7), photo=fake.photo_sizes(photo_bytes(7))))
        (answer,) = await fake.wait_sent(lambda s: s.method in ("sendMessage", "sendPhoto"), 1, timeout=60)
        assert body(answer).startswith("you are ")

        # a maintainer's redeploy: a new model promoted in the mounted folder, /reload, its canary, served
        (models / "DEFAULT").write_text(promote_a_copy(models))
        command = [{"type": "bot_command", "offset": 0, "length": 7}]
        await fake.push(fake.message(private(ADMIN), user(ADMIN), text="/reload", entities=command))
        (reloaded,) = await fake.wait_sent(lambda s: s.params.get("chat_id") in (ADMIN, str(ADMIN)), 1, timeout=120)
        assert "now serving ci-copy" in body(reloaded), body(reloaded)
        assert get(ops, "/readyz")[1]["model"] == "ci-copy"

        # SIGTERM with photos recorded and waiting: those in hand are answered, the rest stay on the volume
        for uid in range(100, 130):
            await fake.push(fake.message(private(uid), user(uid), photo=fake.photo_sizes(photo_bytes(uid))))
        db = sqlite3.connect(state / "mirror.sqlite3")
        for _ in range(300):  # all 32 updates recorded (confirmed to Telegram: only the volume has them)
            if db.execute("SELECT count(*) FROM updates").fetchone()[0] >= 32:
                break
            await asyncio.sleep(0.1)
        code, log = await asyncio.to_thread(first.stop)
        assert code == 0 and "stopped:" in log, log[-3000:]
        left = db.execute("SELECT count(*) FROM updates WHERE state != 'done'").fetchone()[0]
        db.close()
        answered = {int(s.params["chat_id"]) for s in fake.sent if s.method in ("sendMessage", "sendPhoto")}
        assert left > 0 and left + len(answered - {7, ADMIN}) == 30, (left, len(answered))

        # a new container on the same volume answers what the old one left, and nothing twice
        webhook = free_port()  # the new container takes updates by webhook: healthy there too
        second = Container(
            state,
            {**env, "WEBHOOK_URL": f"http://127.0.0.1:{webhook}", "WEBHOOK_SECRET": "derive", "PORT": str(webhook)},
            models,
        )
        second.start()
        await until_ready(ops, second)
        assert second.healthy() and fake.webhook["url"] == f"http://127.0.0.1:{webhook}/telegram"
        await fake.wait_sent(
            lambda s: s.method in ("sendMessage", "sendPhoto") and int(s.params["chat_id"]) >= 100, 30, timeout=180
        )
        await asyncio.sleep(1.0)
        for uid in range(100, 130):
            assert len(fake.replies_to(uid)) == 1, uid
    finally:
        for container in (first, second):
            if container:
                container.remove()
        await fake.stop()


def _default_model() -> str:
    return (ROOT / "models" / "DEFAULT").read_text().strip()


def promote_a_copy(models: Path) -> str:
    """The shipped model again under another version, as a retrain would leave it in models/."""
    shipped = models / (models / "DEFAULT").read_text().strip()
    copy = models / "ci-copy"
    copy.mkdir()
    for name in ("card.json", "model.tflite"):
        shutil.copy(shipped / name, copy / name)
    card = json.loads((copy / "card.json").read_text())
    (copy / "card.json").write_text(json.dumps({**card, "version": "ci-copy"}))
    return "ci-copy"
