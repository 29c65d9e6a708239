"""Hostile files at once through the real bot process (tests/hostile.py): it stays up and small, each
file gets one clear answer, nothing is scored from a file the sender did not send, and a plain photo
right after is answered at once."""

from __future__ import annotations

import pytest

from tests.hostile import ROOT, attack, corpus, more

pytestmark = pytest.mark.slow  # whole processes end to end: `-m "not slow"` leaves them to CI

SOMETHING_WENT_WRONG = "Something went wrong"


async def test_hostile_files_at_once_get_clear_answers_and_the_bot_stays_up_and_small():
    files = {**corpus(), **more()}
    result = await attack(files, (ROOT / "models" / "examples" / "cat.jpg").read_bytes())
    print({k: v for k, v in result.items() if k != "log"})
    errors = [line for line in result["log"] if " ERROR " in line or "Traceback" in line]
    assert result["alive"]
    assert result["peak_tree_rss_mib"] < 700, result["peak_tree_rss_mib"]
    for name, answers in result["answers"].items():
        assert len(answers) == 1, (name, answers)  # one answer each, none twice
        text, at = answers[0]
        assert at < 30 and SOMETHING_WENT_WRONG not in text, (name, text, at, errors)
    for name in ("ffconcat", "hls_playlist"):  # a list naming the bot's own files is refused, never scored
        ((text, _),) = result["answers"][name]
        assert "couldn't read" in text and "%" not in text, (name, text)
    ((text, at),) = result["plain"]
    assert "kitty" in text and at < 10, (text, at)
    assert not errors
