"""The console scripts pyproject.toml installs: each names a callable ``main``, and, installed, answers --help as
its ``python -m`` twin does."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
TWINS = {"mirror-bot": "bot", "mirror-classify": "classifier", "mirror-train": "training"}


def test_the_commands_a_user_runs_are_scripts():
    assert {name: target.split(".")[0] for name, target in SCRIPTS.items()} == TWINS


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_each_script_names_a_callable(name):
    module, _, attribute = SCRIPTS[name].partition(":")
    assert callable(getattr(importlib.import_module(module), attribute))
    assert module == f"{TWINS[name]}.__main__"  # the same main as python -m


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_an_installed_script_answers_help(name):
    script = Path(sys.executable).with_name(name)
    if not script.exists():
        script = shutil.which(name)
    if script is None:
        pytest.skip(f"{name} is not installed: pip install -e . --no-deps")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith(f"usage: python -m {TWINS[name]}"), run.stdout[:200]
