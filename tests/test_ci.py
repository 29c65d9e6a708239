"""CI runs on a fresh machine that has only what .ci/run installs: every program a test looks up
(``shutil.which("...")``) or starts by its Debian path (``/usr/bin/...``) must be installed there."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOOKUPS = re.compile(
    r"""which\(\s*["']([A-Za-z0-9][A-Za-z0-9_.+-]*)["']\s*\)|["']/usr/bin/([A-Za-z0-9][A-Za-z0-9_.+-]*)["']"""
)


def programs_the_tests_need() -> set[str]:
    found = set()
    # the tests, and what they run of ours (tools/loadtest.py starts redis-server for the replica tests)
    for path in [p for folder in ("tests", "bot", "classifier", "tools") for p in ROOT.glob(f"{folder}/*.py")]:
        for which, usr_bin in LOOKUPS.findall(path.read_text()):
            found.add(which or usr_bin)
    return found


def test_ci_installs_every_program_the_tests_look_up():
    ci = (ROOT / ".ci" / "run").read_text()
    programs = re.search(r"^programs=\(([^)]*)\)", ci, re.M)
    assert programs, ".ci/run lists the programs it makes sure of in programs=(...)"
    installed = set(programs.group(1).split())
    needed = programs_the_tests_need()
    assert {"redis-server", "chromium", "chromedriver"} <= needed  # the scan itself still sees them
    assert needed <= installed, f".ci/run does not install {sorted(needed - installed)}"


def test_the_tracked_tree_fits_a_device_run_with_room_for_data():
    """The device tool takes the working tree, at most 64 MiB with what a run carries: one shipped
    model in the tree (older ones live in git history), the tracked files under 40 MiB."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    files = [ROOT / name for name in listed.stdout.decode().split("\0") if name]
    total = sum(p.stat().st_size for p in files if p.is_file())
    assert total < 40 * 2**20, f"tracked files: {total / 2**20:.1f} MiB"
    models = ROOT / "models"
    versions = {p.parent.name for p in models.glob("*/card.json")}
    assert versions == {(models / "DEFAULT").read_text().strip()}, versions
