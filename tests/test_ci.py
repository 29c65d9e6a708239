"""CI runs on a fresh machine that has only what .ci/run installs: every program a test looks up
(``shutil.which("...")``) or starts by its Debian path (``/usr/bin/...``) must be installed there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOOKUPS = re.compile(
    r"""which\(\s*["']([A-Za-z0-9][A-Za-z0-9_.+-]*)["']\s*\)|["']/usr/bin/([A-Za-z0-9][A-Za-z0-9_.+-]*)["']"""
)


def programs_the_tests_need() -> set[str]:
    found = set()
    # the tests, and what they run of ours (the load test starts redis-server for the replica tests)
    for path in [*ROOT.glob("tests/*.py"), *ROOT.glob("bot/*.py"), *ROOT.glob("classifier/*.py")]:
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
