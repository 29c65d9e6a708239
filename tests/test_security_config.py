"""Safe in public: the webhook refuses what is not Telegram's, the bot asks Telegram only for what it
answers, no log line or child process carries a secret, and models/DEFAULT cannot lead outside models/."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import aiohttp
import httpx
import pytest
from telegram import Update
from telegram.error import NetworkError

from bot.app import configure_logging
from bot.config import ALLOWED_UPDATES, MIN_SECRET, Config, ConfigError, derive_secret
from bot.playground.fakeapi import FakeBotAPI
from classifier import ModelError
from classifier.card import default_model_dir, set_default
from tests.conftest import free_port
from tests.test_bot import Harness, body, private, reply_in, send_photo, user

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-token"  # the fake's
SECRET = "k" * MIN_SECRET
HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
async def fake():
    server = await FakeBotAPI().start()
    yield server
    await server.stop()


def webhook_settings(secret: str = SECRET) -> dict:
    port = free_port()
    return dict(webhook_url=f"http://127.0.0.1:{port}", webhook_secret=secret, port=port, listen="127.0.0.1")


def command(who: int, line: str) -> dict:
    return {
        "message_id": 1,
        "date": 0,
        "chat": private(who),
        "from": user(who),
        "text": line,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(line.split()[0])}],
    }


# -- the webhook's secret -------------------------------------------------------------------------
@pytest.mark.parametrize("secret", [None, "", "short", "x" * (MIN_SECRET - 1), "y" * 31 + " ", "é" * 40, "z" * 257])
def test_a_webhook_without_a_long_secret_is_refused_at_start(secret):
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://mirror.example"}
    if secret is not None:
        env["WEBHOOK_SECRET"] = secret
    with pytest.raises(ConfigError) as refused:
        Config.from_env(env)
    assert "WEBHOOK_SECRET" in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(ConfigError):  # built in code, as the tests do
        Config(token=TOKEN, webhook_url="https://mirror.example", webhook_secret=secret)


def test_a_long_secret_or_one_derived_from_the_token_is_taken():
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://mirror.example"}
    assert Config.from_env({**env, "WEBHOOK_SECRET": SECRET}).webhook_secret == SECRET
    derived = Config.from_env({**env, "WEBHOOK_SECRET": "derive"}).webhook_secret
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,256}", derived) and derived == derive_secret(TOKEN)
    assert Config.from_env({**env, "WEBHOOK_SECRET": "derive"}).webhook_secret == derived  # every replica alike
    assert derive_secret("654321:other-token") != derived and "TEST-token" not in derived
    assert Config.from_env({"TELEGRAM_BOT_TOKEN": TOKEN}).webhook_secret is None  # polling needs none


def test_python_m_bot_with_a_webhook_and_no_secret_exits_with_one_line(tmp_path):
    secrets = ("WEBHOOK_SECRET", "MODEL_DIR", "MODELS_ROOT", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if k not in secrets}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        WEBHOOK_URL="https://mirror.example",
        TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{free_port()}/bot",  # nothing there, should it get that far
        MODEL_DIR=str(tmp_path / "no-model"),
        STATE_DIR=str(tmp_path / "state"),
    )
    done = subprocess.run([sys.executable, "-m", "bot"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: ") and "WEBHOOK_SECRET" in done.stderr


async def raw_post(port: int, secret_header: bytes, payload: bytes = b'{"update_id": 1}') -> int:
    """One request written byte for byte: a client library would refuse or re-encode the header."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /telegram HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + b"X-Telegram-Bot-Api-Secret-Token: "
        + secret_header
        + b"\r\nContent-Length: "
        + str(len(payload)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + payload
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


async def test_a_non_ascii_secret_header_is_refused_without_a_traceback(fake, tiny_classifier, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    settings = webhook_settings()
    async with Harness(fake, tiny_classifier, tmp_path, **settings):
        port = settings["port"]
        for header in ("é" * MIN_SECRET).encode(), b"\xff" * MIN_SECRET, b"k" * (MIN_SECRET - 1) + "é".encode():
            assert await raw_post(port, header) == 403
        assert await raw_post(port, SECRET.encode()) == 200
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


NOT_AN_UPDATE = [
    b'{"update_id": "12"}',
    b'{"update_id": 12.5}',
    b'{"update_id": 12.0}',
    b'{"update_id": true}',
    b'{"update_id": -1}',
    b'{"update_id": null}',
    b'{"update_id": 1' + b"0" * 30 + b"}",
    b"{}",
    b"[1]",
    b"12",
    b'"update_id"',
    b"not json",
    b'{"update_id": "\xff"}',
]


async def test_an_update_that_is_not_a_json_object_with_an_integer_id_gets_400(fake, tiny_classifier, tmp_path):
    settings = webhook_settings()
    url = f"http://127.0.0.1:{settings['port']}/telegram"
    async with Harness(fake, tiny_classifier, tmp_path, **settings), aiohttp.ClientSession() as session:
        for payload in NOT_AN_UPDATE:
            headers = {HEADER: SECRET, "Content-Type": "application/json"}
            async with session.post(url, data=payload, headers=headers) as r:
                assert r.status == 400, payload
        async with session.post(url, json={"update_id": 7}, headers={HEADER: SECRET}) as r:
            assert r.status == 200


# -- the update types asked for -------------------------------------------------------------------
async def test_every_update_type_asked_for_reaches_a_handler_and_others_do_not(fake):
    from telegram.ext import ApplicationBuilder

    from bot.app import add_handlers

    application = ApplicationBuilder().token(TOKEN).base_url(fake.api_base_url).updater(None).build()
    add_handlers(application)
    await application.bot.initialize()  # commands are matched against the bot's name

    def handled(update: dict) -> bool:
        parsed = Update.de_json({"update_id": 1, **update}, application.bot)
        return any(h.check_update(parsed) for group in application.handlers.values() for h in group)

    assert set(ALLOWED_UPDATES) <= set(Update.ALL_TYPES)
    why = {"id": "q1", "from": user(1), "chat_instance": "c", "data": "why:abc"}
    asked = {
        "message": command(1, "/start"),
        "callback_query": why,
        "inline_query": {"id": "i1", "from": user(1), "query": "", "offset": ""},
    }
    assert set(asked) == set(ALLOWED_UPDATES)
    for kind, content in asked.items():
        assert handled({kind: content}), kind
    member = {"user": user(2), "status": "member"}
    change = {"chat": {"id": -5, "type": "group"}, "from": user(1), "date": 0}
    change.update(old_chat_member={**member, "status": "left"}, new_chat_member=member)
    channel = {"id": -100, "type": "channel", "title": "News"}
    assert not handled({"chat_member": change}) and not handled({"my_chat_member": change})
    assert not handled({"channel_post": {**command(1, "/start"), "chat": channel}})
    await application.bot.shutdown()


async def test_polling_asks_only_for_handled_types_and_stores_no_other(fake, tiny_classifier, tmp_path):
    asked = []
    get_updates = fake._m_getUpdates

    async def spy(params):
        asked.append(params.get("allowed_updates"))
        return await get_updates(params)

    fake._m_getUpdates = spy
    member = {"user": user(2), "status": "member"}
    change = {"chat": {"id": -5, "type": "group"}, "from": user(1), "date": 0}
    change.update(old_chat_member={**member, "status": "left"}, new_chat_member=member)
    ignored = [
        await fake.push(chat_member=change),
        await fake.push(my_chat_member=change),
        await fake.push(edited_message=command(9, "/start")),
    ]
    await send_photo(fake, private(8), user(8))
    async with Harness(fake, tiny_classifier, tmp_path):
        assert body((await reply_in(fake, 8))[0]).startswith("you are ")
    assert asked and all(a == list(ALLOWED_UPDATES) for a in asked)
    with sqlite3.connect(tmp_path / "mirror.sqlite3") as db:
        stored = {row[0] for row in db.execute("SELECT update_id FROM updates")}
    assert stored and not stored & set(ignored)
    assert not fake.replies_to(9)


async def test_the_webhook_asks_only_for_handled_types(fake, tiny_classifier, tmp_path):
    asked = []
    set_webhook = fake._m_setWebhook

    async def spy(params):
        asked.append(params)
        return await set_webhook(params)

    fake._m_setWebhook = spy
    async with Harness(fake, tiny_classifier, tmp_path, **webhook_settings()):
        pass
    assert asked[0]["allowed_updates"] == list(ALLOWED_UPDATES) and asked[0]["secret_token"] == SECRET


# -- no secret in a log line ----------------------------------------------------------------------
@pytest.fixture
def log_output():
    """What the root logger's handlers write, once configure_logging has set them up."""
    root = logging.getLogger()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    root.addHandler(handler)
    kept = {h: h.formatter for h in root.handlers}
    yield out
    root.removeHandler(handler)
    for h, formatter in kept.items():
        h.setFormatter(formatter)


def test_no_log_line_carries_the_token_in_its_message_traceback_or_stack(log_output):
    secret = "s" * MIN_SECRET
    configure_logging(Config(token=TOKEN, webhook_url="https://mirror.example", webhook_secret=secret))
    log = logging.getLogger("tests.redaction")
    log.setLevel(logging.INFO)
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
    log.info("calling %s", url)
    log.info("encoded: %s", quote(url, safe=""))
    log.info("the secret part alone: %s; the webhook's: %s", TOKEN.split(":")[1], secret)
    try:
        request = httpx.Request("POST", url)
        response = httpx.Response(502, request=request)
        try:
            response.raise_for_status()
        except httpx.HTTPStatusError as cause:
            raise NetworkError(f"httpx.HTTPStatusError: {cause}") from cause
    except NetworkError:
        log.exception("getUpdates failed")
    where = {}  # a stack whose frame names the token (a file under a folder named after it)
    exec(compile("def here(log):\n    log.warning('here', stack_info=True)\n", f"/srv/bot{TOKEN}/x.py", "exec"), where)
    where["here"](log)
    text = log_output.getvalue()
    assert "Traceback (most recent call last)" in text and "HTTPStatusError" in text and "Stack (most" in text
    assert text.count("<token>") >= 6 and "<webhook-secret>" in text
    for leak in (TOKEN, quote(TOKEN, safe=""), TOKEN.split(":")[1], secret):
        assert leak not in text


# -- the face-embedding child ---------------------------------------------------------------------
BOT_SECRETS = {
    "TELEGRAM_BOT_TOKEN": TOKEN,
    "REDIS_URL": "redis://:hunter2@redis:6379/0",
    "WEBHOOK_SECRET": SECRET,
    "TELEGRAM_BOT_TOKEN_FILE": "/run/secrets/token",
}


def test_the_child_that_builds_the_face_graph_sees_no_secret(monkeypatch, tmp_path):
    from classifier import face_embedding

    for name, value in BOT_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.chdir(tmp_path)  # the child still finds the package
    done = face_embedding._run_child(
        "-c", "import json, os, classifier.face_embedding; print(json.dumps(dict(os.environ)))"
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert not set(BOT_SECRETS) & set(seen) and seen["PATH"] == os.environ["PATH"] and seen["LC_ALL"] == "C.UTF-8"
    assert not any(value in json.dumps(seen) for value in BOT_SECRETS.values())


def test_the_face_embedder_builds_its_graph_through_that_child(monkeypatch):
    import numpy as np

    from classifier import face_embedding

    for name, value in BOT_SECRETS.items():
        monkeypatch.setenv(name, value)
    spawned = []
    run = subprocess.run

    def spy(*args, **kwargs):
        spawned.append(kwargs.get("env"))
        return run(*args, **kwargs)

    monkeypatch.setattr(face_embedding.subprocess, "run", spy)
    embedder = face_embedding.FaceEmbedder()
    assert embedder.infer(np.zeros((1, 150, 150, 3), np.uint8)).shape == (1, 128)
    assert len(spawned) == 1 and spawned[0] is not None and not set(BOT_SECRETS) & set(spawned[0])


# -- models/DEFAULT -------------------------------------------------------------------------------
def test_default_names_a_folder_inside_models(tmp_path):
    root, outside = tmp_path / "models", tmp_path / "elsewhere"
    (root / "v1").mkdir(parents=True)
    outside.mkdir()
    (root / "latest").symlink_to(root / "v1")  # a link that stays inside is a folder inside
    (root / "away").symlink_to(outside)
    for name in ("v1", "latest"):
        set_default(root, name)
        assert default_model_dir(root) == root / name
    for name in ("../elsewhere", str(outside), "v1/../../elsewhere", "..", ".", "away", ""):
        (root / "DEFAULT").write_text(name + "\n")
        with pytest.raises(ModelError, match="DEFAULT"):
            default_model_dir(root)
        if name:
            with pytest.raises(ModelError):
                set_default(root, name)


async def test_reload_keeps_serving_when_default_leads_outside_models(fake, tiny_classifier, tiny_model_dir, tmp_path):
    root = tmp_path / "models"
    root.mkdir()
    (root / "away").symlink_to(tiny_model_dir)  # a real model, outside this models/
    async with Harness(fake, tiny_classifier, tmp_path / "state", models_root=root, admins=frozenset({5})):
        for n, name in enumerate((str(tiny_model_dir), "away", "../" + tiny_model_dir.name), start=1):
            (root / "DEFAULT").write_text(name + "\n")
            await fake.push(command(5, "/reload"))
            refused = body((await reply_in(fake, 5, n))[n - 1])
            assert refused.startswith("kept tiny-1: ModelError:") and "DEFAULT" in refused, refused


def test_secrets_can_come_from_files(tmp_path):
    from bot.config import Config, ConfigError

    token, url = tmp_path / "token", tmp_path / "redis_url"
    token.write_text("123:from-a-file\n")
    url.write_text("redis://:pw@redis:6379/0")
    config = Config.from_env({"TELEGRAM_BOT_TOKEN_FILE": str(token), "REDIS_URL_FILE": str(url)})
    assert config.token == "123:from-a-file" and config.redis_url == "redis://:pw@redis:6379/0"
    with pytest.raises(ConfigError, match="cannot read"):
        Config.from_env({"TELEGRAM_BOT_TOKEN_FILE": str(tmp_path / "missing")})
    with pytest.raises(ConfigError, match="keep one"):
        Config.from_env({"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_BOT_TOKEN_FILE": str(token)})
