"""The rebuild's run folder on tiny made-up data (a small CNN, seconds a run): resuming after a change,
one process at a time, promotion only on a verdict that still holds, settings a resume refuses.
The whole chain with the bot's heads: tests/test_training.py::test_one_command_rebuilds_..."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from test_training import args_for, kaggle_dir  # noqa: F401  (a fixture)

from classifier.card import default_model_dir
from training.__main__ import main
from training.rebuild import rebuild


def test_a_stage_run_again_runs_every_stage_after_it_again(kaggle_dir, tmp_path, capsys):  # noqa: F811
    rebuild(args_for(kaggle_dir, tmp_path, version="r", stop_after="serving"))
    run = tmp_path / "runs" / "r"
    before = json.loads((run / "rebuild.json").read_text())["done"]
    assert list(before) == ["pets", "serving"]
    shutil.rmtree(run / "pets")  # the fine-tune's artifact gone: it runs again, and so does serving
    capsys.readouterr()
    assert main(["--resume", str(run), "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert "done before" not in said and "[2/3] write the LiteRT serving file: done" in said
    state = json.loads((run / "rebuild.json").read_text())
    assert list(state["done"]) == ["pets", "serving", "compare"] and state["published"]["promoted"]


def test_one_process_at_a_time_in_a_run_folder(kaggle_dir, tmp_path):  # noqa: F811
    rebuild(args_for(kaggle_dir, tmp_path, version="l", stop_after="pets"))
    run = tmp_path / "runs" / "l"
    (run / "rebuild.lock").write_text(str(os.getpid()))  # a live process holds it
    assert main(["--resume", str(run)]) == 2
    (run / "rebuild.lock").write_text("999999999")  # a dead one: taken over
    assert main(["--resume", str(run), "--no-progress"]) == 0 and not (run / "rebuild.lock").exists()


def test_a_finished_run_is_promoted_later_only_against_the_default_it_was_compared_with(kaggle_dir, tmp_path):  # noqa: F811
    first = rebuild(args_for(kaggle_dir, tmp_path, version="a", head_epochs=8, promote=False))
    assert not first["promoted"] and first["promote_verdict"] == "no default model to beat"
    rebuild(args_for(kaggle_dir, tmp_path, version="b", head_epochs=8, promote=True))
    assert default_model_dir(tmp_path).name == "b"
    assert main(["--resume", str(tmp_path / "runs" / "a"), "--promote"]) == 0
    assert default_model_dir(tmp_path).name == "b"  # its verdict was against no default, not against b


@pytest.mark.parametrize(
    "changes,error",
    [
        ({"version": "team/v1"}, "letters, digits"),
        ({"version": "x", "stop_after": "boxes"}, "this run's stages are pets, serving, compare"),
    ],
)
def test_settings_that_cannot_work_are_refused_before_the_fine_tune(kaggle_dir, tmp_path, changes, error):  # noqa: F811
    with pytest.raises(ValueError, match=error):
        rebuild(args_for(kaggle_dir, tmp_path, **changes))
    assert not (tmp_path / "x").exists()


def test_a_resume_keeps_the_runs_own_settings(kaggle_dir, tmp_path, capsys):  # noqa: F811
    rebuild(args_for(kaggle_dir, tmp_path, version="s", stop_after="pets"))
    capsys.readouterr()
    assert main(["--resume", str(tmp_path / "runs" / "s"), "--epochs", "9"]) == 2
    assert "--epochs" in capsys.readouterr().err.splitlines()[-1]
