"""One command rebuilds the served model: the stages of ``training/stages.py`` in a run folder
(``training/runfolder.py``), then the artifact into ``models/`` and, with ``--promote``, the default
when the verdict finds it better than the one there.

An interrupted run (a crash, Ctrl-C, a machine without TensorFlow for the serving file) goes on from
its first unfinished stage with ``python -m training --resume runs/<version>``; a stage cut short
starts again from its beginning, and every stage after one that runs again runs again too. The photo
folders and ``--out`` can be named again there (a run carried from another machine), and adding
``--faces``/``--lookalike``/``--pets-real`` adds their stages (a fine-tune made on a GPU machine alone).
"""

from __future__ import annotations

import json
import shutil
import time
from argparse import Namespace
from pathlib import Path

from .progress import duration
from .runfolder import Run
from .stages import Stage, plan

TIMINGS = "timings.json"  # in the runs folder: each stage's seconds in the last run, for the time estimate


def rebuild(args: Namespace, defaults: dict | None = None) -> dict:
    started = time.perf_counter()
    resuming = getattr(args, "resume", None)
    run = Run.resume(args.resume, args, defaults or {}) if resuming else Run.start(args)
    stages = [s.name for s in plan(run.args())]
    if run.settings.get("stop_after") and run.settings["stop_after"] not in stages:
        raise ValueError(f"--stop-after {run.settings['stop_after']}: this run's stages are {', '.join(stages)}")
    run.lock()
    try:
        summary = _rebuild(run)
    except BaseException:
        print(f"stopped; go on with: python -m training --resume {run.folder}")
        raise
    finally:
        run.unlock()
    summary.setdefault("seconds", time.perf_counter() - started)
    return summary


def _rebuild(run: Run) -> dict:
    settings = run.args()
    stages = plan(settings)
    if run.published:
        return _published_again(run, settings)
    print(f"run folder {run.folder}: {len(stages)} stages ({', '.join(s.name for s in stages)})")
    previous, rerun_rest = None, False
    for n, stage in enumerate(stages, 1):
        head = f"[{n}/{len(stages)}] {stage.what}"
        rerun_rest = rerun_rest or not _still_done(run, settings, stage)
        if rerun_rest:  # a stage builds on the artifact before it: this one and every one after it run
            run.forget_from([s.name for s in stages[n - 1 :]])
            _run_stage(run, settings, stages[n - 1 :], head, previous)
        else:
            print(f"{head}: done before ({duration(run.done[stage.name]['seconds'])})")
        previous = run.folder / stage.name
        if stage.name == settings.stop_after and n < len(stages):
            print(f"stopped after {stage.name} (--stop-after); go on with: python -m training --resume {run.folder}")
            return {"run": str(run.folder), "stopped_after": stage.name}
    return publish(run, settings, previous)


def _still_done(run: Run, settings: Namespace, stage: Stage) -> bool:
    if stage.name not in run.done or not (run.folder / stage.name).is_dir():
        return False
    if stage.name == "compare":  # a verdict holds only against the default it was made against
        said, now = run.done["compare"]["result"].get("default"), _default_version(Path(settings.out))
        if said != now:
            print(f"the default is now {now}, not {said} as compared: comparing again")
            return False
    return True


def _default_version(out: Path) -> str | None:
    from classifier import ModelCard, ModelError
    from classifier.card import default_model_dir

    try:
        return ModelCard.load(default_model_dir(out)).version
    except ModelError:
        return None


def _run_stage(run: Run, settings: Namespace, todo: list[Stage], head: str, previous: Path | None) -> None:
    stage = todo[0]
    left = _estimate(run, settings, todo)
    print(f"{head} ..." + (f" (about {duration(left)} left in all, as the last run here took)" if left else ""))
    partial = run.folder / f".{stage.name}.partial"
    _clear(run.folder, stage.name)
    t = time.perf_counter()
    try:
        result = stage.run(settings, previous, partial)
    except BaseException:
        _clear(run.folder, stage.name)
        raise
    if not partial.is_dir():
        raise RuntimeError(f"stage {stage.name} wrote no artifact")
    partial.rename(run.folder / stage.name)
    run.done[stage.name] = {"folder": stage.name, "seconds": round(time.perf_counter() - t, 1), "result": result}
    run.save()
    _remember(run, settings)
    print(f"{head}: done in {duration(run.done[stage.name]['seconds'])}")


def _clear(folder: Path, name: str) -> None:
    """What a stage cut short left: its partial folder and those of the exports inside it."""
    for leftover in folder.glob(f".*{name}.partial*"):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.rmtree(folder / name, ignore_errors=True)


def _timing_key(settings: Namespace) -> list:
    keys = ("data", "limit", "backbone", "mode", "head_epochs", "fine_tune_epochs", "faces", "pets_real")
    return [str(getattr(settings, key, None)) for key in keys]


def _estimate(run: Run, settings: Namespace, todo: list[Stage]) -> float | None:
    """Seconds left, as the last run with the same photos and settings in the same runs folder took."""
    try:
        last = json.loads((run.folder.parent / TIMINGS).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if last.get("key") != _timing_key(settings) or any(s.name not in last["seconds"] for s in todo):
        return None
    return sum(last["seconds"][s.name] for s in todo)


def _remember(run: Run, settings: Namespace) -> None:
    path, tmp = run.folder.parent / TIMINGS, run.folder.parent / (TIMINGS + ".tmp")
    seconds = {name: done["seconds"] for name, done in run.done.items()}
    tmp.write_text(json.dumps({"key": _timing_key(settings), "seconds": seconds}) + "\n")
    tmp.replace(path)


def publish(run: Run, settings: Namespace, artifact: Path) -> dict:
    """The last stage's artifact into ``--out`` under its version; the default too with ``--promote``
    and a verdict that it is better. The intermediate stages' folders go (the state file stays)."""
    from classifier import ModelCard

    out = Path(settings.out)
    final = out / settings.version
    card = ModelCard.load(artifact)
    if final.exists() and ModelCard.load(final).created != card.created:
        raise FileExistsError(f"{final} exists and is another model; go on with another --out")
    if not final.exists():
        partial = out / f".{settings.version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(artifact, partial, ignore=shutil.ignore_patterns("*.weights.h5"))
        partial.rename(final)
    verdict = card.metrics.get("compared_with_default", {"better": False, "verdict": "not compared"})
    run.published = {
        "artifact": str(final),
        "accuracy": card.metrics["test"]["accuracy"],
        "log_loss": card.metrics["test"]["log_loss"],
        "promoted": False,
        "promote_verdict": verdict["verdict"],
    }
    run.save()  # before the clean-up: a run killed now is finished, not started again
    for name in list(run.done):
        if run.folder / name != artifact:
            shutil.rmtree(run.folder / name, ignore_errors=True)
    print(f"wrote {final}; see {final / 'report.md'} and {final / 'comparison.md'}")
    return _promote(run, settings, verdict)


def _published_again(run: Run, settings: Namespace) -> dict:
    """A finished run resumed: nothing to build; promoted now if asked and its verdict still holds."""
    print(f"{run.folder} is finished: {run.published['artifact']}")
    if not settings.promote or run.published["promoted"]:
        return run.published
    from classifier import ModelCard

    verdict = ModelCard.load(Path(run.published["artifact"])).metrics.get("compared_with_default", {})
    if verdict.get("default") != _default_version(Path(settings.out)):
        print(f"not promoted: compared with {verdict.get('default')}, and the default is another model now")
        return run.published
    return _promote(run, settings, verdict)


def _promote(run: Run, settings: Namespace, verdict: dict) -> dict:
    from classifier.card import set_default

    final = Path(run.published["artifact"])
    if settings.promote and verdict.get("better"):
        set_default(Path(settings.out), final.name)
        run.published["promoted"] = True
        run.save()
        print(f"{final.name} is now the default model")
    else:
        print(f"the default stays ({'no --promote' if verdict.get('better') else verdict.get('verdict')})")
    return dict(run.published)
