"""The deployment recipe stays in step with the code: every setting it passes is one the bot reads,
the proxy forwards the webhook's path, the image runs the bot as a non-root user."""

from __future__ import annotations

import re
from pathlib import Path

from bot.app import WEBHOOK_PATH
from bot.config import Config

ROOT = Path(__file__).resolve().parent.parent


def settings_the_bot_reads() -> set[str]:
    source = (ROOT / "bot" / "config.py").read_text(encoding="utf-8")
    return set(re.findall(r'env(?:\.get\(|\[)"([A-Z_]+)"', source))


def test_compose_passes_only_settings_the_bot_reads_and_secrets_as_files():
    compose = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    block = compose.split("\n  bot:\n", 1)[1].split("\n  proxy:\n", 1)[0]
    passed = set(re.findall(r"^      ([A-Z_]+):", block, re.M))
    assert {"TELEGRAM_BOT_TOKEN_FILE", "WEBHOOK_URL", "WEBHOOK_SECRET_FILE", "REDIS_URL_FILE"} <= passed
    assert {name.removesuffix("_FILE") for name in passed} <= settings_the_bot_reads()
    assert not {"TELEGRAM_BOT_TOKEN", "WEBHOOK_SECRET", "REDIS_URL"} & passed  # never in plain environment
    assert "replicas: 3" in block


def test_compose_is_hardened():
    """Each service: no capabilities it does not need, no new privileges, a memory limit; the bots and Redis
    alone on an internal network; Redis with a password, a memory cap and no eviction of the queue."""
    compose = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    services = re.split(r"\n  (?=[a-z]+:\n)", compose.split("\nservices:\n", 1)[1].split("\nnetworks:\n")[0])
    assert len(services) == 3
    for service in services:
        assert "cap_drop: [ALL]" in service and "no-new-privileges:true" in service and "mem_limit:" in service
    redis, bot, proxy = services
    assert "read_only: true" in redis and "read_only: true" in bot and "tmpfs: [/tmp]" in bot
    assert "--requirepass" in redis and "--maxmemory-policy noeviction" in redis and "--maxmemory " in redis
    assert "networks: [backend]" in redis and "backend" in bot and "backend" not in proxy
    assert "internal: true" in compose.split("\nnetworks:\n")[1]
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert {".env", "/deploy/certs/", "/deploy/secrets/"} <= set(ignored)
    docker_ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", "deploy/certs", "deploy/secrets"} <= set(docker_ignored)


def test_proxy_forwards_only_the_webhook_to_the_bots():
    nginx = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    assert f"location = {WEBHOOK_PATH} {{" in nginx and f"set $bots http://bot:{Config.port};" in nginx
    assert "resolver 127.0.0.11" in nginx  # replicas added by --scale are found without a reload
    assert "return 404;" in nginx  # /metrics and /readyz are not public


def test_image_runs_the_bot_as_a_non_root_user():
    docker = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^USER mirror$", docker, re.M) and 'CMD ["python", "-m", "bot"]' in docker
    assert f"EXPOSE {Config.port}" in docker and "COPY models models" in docker
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".venv" in ignored and "state" in ignored  # no local state or secrets baked in


def test_the_image_installs_the_locked_hashed_versions_the_project_asks_for():
    """requirements.lock pins every dependency (and theirs) with hashes, inside pyproject's ranges; a
    floor raised in pyproject without refreshing the lock fails here."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", lock):
        match = re.match(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s\\;]+)", block)
        if match:
            assert "--hash=sha256:" in block, match.group(1)
            pinned[canonicalize_name(match.group(1))] = match.group(2)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in requirements.lock"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (name, pinned[name], line)
    docker = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes --no-deps -r requirements.lock" in docker


def test_one_settings_table_in_config_help_and_readme():
    import subprocess
    import sys

    from bot.config import SETTING_NAMES, settings_table

    assert sorted(SETTING_NAMES) == sorted(settings_the_bot_reads()) and len(set(SETTING_NAMES)) == len(SETTING_NAMES)
    run = [sys.executable, "-m", "bot"]
    shown = subprocess.run([*run, "--help"], capture_output=True, text=True, cwd=ROOT).stdout
    assert all(name in " ".join(shown.split()) for name in SETTING_NAMES), shown
    table = subprocess.run([*run, "--settings"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    assert table == settings_table()
    assert settings_table() in (ROOT / "README.md").read_text(encoding="utf-8"), "run python -m bot --settings"
