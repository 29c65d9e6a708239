"""One command rebuilds the served model: the stages of ``training/stages.py`` in a run folder, then
the artifact into ``models/`` and, with ``--promote``, the default when it beats the one there.

The run folder (``runs/<version>/``) holds each finished stage's artifact and ``rebuild.json``: the
settings, and each finished stage with its seconds and what it measured. An interrupted run (a crash,
Ctrl-C, a machine without TensorFlow for the serving file) goes on from its first unfinished stage with
``python -m training --resume runs/<version>``; a stage cut short starts again from its beginning. The
photo folders and ``--out`` can be named again there (a run carried from another machine), and adding
``--faces``/``--lookalike``/``--pets-real`` adds their stages (a fine-tune made on a GPU machine alone).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from argparse import Namespace
from dataclasses import dataclass, field
from pathlib import Path

from .progress import duration
from .stages import Stage, plan

STATE = "rebuild.json"
TIMINGS = "timings.json"  # in the runs folder: each stage's seconds in the last run, for the time estimate
PATHS = ("faces", "lookalike", "pets_real")
OVERRIDES = ("data", "faces", "lookalike", "pets_real", "out")  # what --resume may name again


@dataclass
class Run:
    folder: Path
    settings: dict
    done: dict = field(default_factory=dict)  # stage -> {"folder", "seconds", "result"}

    @classmethod
    def start(cls, args: Namespace) -> Run:
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "resume"}
        settings["out"] = settings.get("out") or "models"
        backbone = settings["backbone"].replace("efficientnet_", "")
        settings["version"] = args.version or f"{backbone}-{dt.date.today():%Y%m%d}-{int(time.time()) % 100000:05d}"
        if not Path(args.data).is_dir():
            raise FileNotFoundError(f"dataset directory not found: {args.data}")
        for key in PATHS:  # before hours of fine-tuning, not after
            if getattr(args, key, None) and not Path(getattr(args, key)).is_dir():
                raise FileNotFoundError(f"not a folder: {getattr(args, key)} (--{key.replace('_', '-')})")
        folder, final = Path(args.run_dir) / settings["version"], Path(settings["out"]) / settings["version"]
        if final.exists():
            raise FileExistsError(f"{final} already exists; pick another --version")
        if folder.exists():
            raise FileExistsError(f"{folder} exists: go on with --resume {folder}, or pick another --version")
        folder.mkdir(parents=True)
        run = cls(folder, settings)
        run.save()
        return run

    @classmethod
    def resume(cls, folder: Path, again: Namespace | None = None) -> Run:
        """The run in ``folder``; ``again``'s photo folders, ``--out`` and ``--promote`` where given."""
        try:
            state = json.loads((Path(folder) / STATE).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise FileNotFoundError(f"{folder} is not a rebuild's run folder ({STATE}: {exc})") from None
        run = cls(Path(folder), state["settings"], state["done"])
        for key in OVERRIDES:
            if getattr(again, key, None):
                run.settings[key] = str(getattr(again, key))
        run.settings["promote"] = run.settings.get("promote") or bool(getattr(again, "promote", False))
        run.settings["stop_after"] = getattr(again, "stop_after", None)
        return run

    def save(self) -> None:
        tmp = self.folder / (STATE + ".tmp")
        tmp.write_text(json.dumps({"settings": self.settings, "done": self.done}, indent=1) + "\n")
        tmp.replace(self.folder / STATE)

    def args(self) -> Namespace:
        args = Namespace(**self.settings)
        for key in PATHS:
            setattr(args, key, Path(getattr(args, key)) if getattr(args, key, None) else None)
        return args


def rebuild(args: Namespace) -> dict:
    started = time.perf_counter()
    run = Run.resume(args.resume, args) if getattr(args, "resume", None) else Run.start(args)
    settings = run.args()
    if "published" in run.done:
        print(f"{run.folder} is finished: {run.done['published']['result']['artifact']}")
        return run.done["published"]["result"]
    stages = plan(settings)
    print(f"run folder {run.folder}: {len(stages)} stages ({', '.join(s.name for s in stages)})")
    previous, again = None, False
    for n, stage in enumerate(stages, 1):
        final = run.folder / stage.name
        head = f"[{n}/{len(stages)}] {stage.what}"
        if not again and stage.name in run.done and final.is_dir():
            print(f"{head}: done before ({duration(run.done[stage.name]['seconds'])})")
        else:  # this stage and every one after it: a stage builds on the artifact before it
            again = True
            _run_stage(run, settings, stages[n - 1 :], head, previous)
        previous = final
        if stage.name == getattr(settings, "stop_after", None) and n < len(stages):
            print(f"stopped after {stage.name} (--stop-after); go on with: python -m training --resume {run.folder}")
            return {"run": str(run.folder), "stopped_after": stage.name}
    summary = publish(run, settings, previous)
    summary["seconds"] = time.perf_counter() - started
    return summary


def _run_stage(run: Run, settings: Namespace, todo: list[Stage], head: str, previous: Path | None) -> None:
    stage, name = todo[0], todo[0].name
    left = _estimate(run, settings, todo)
    print(f"{head} ..." + (f" (about {duration(left)} left in all, as the last run here took)" if left else ""))
    partial = run.folder / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    t = time.perf_counter()
    try:
        result = stage.run(settings, previous, partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        print(f"stopped in stage {name}; go on with: python -m training --resume {run.folder}")
        raise
    shutil.rmtree(run.folder / name, ignore_errors=True)  # an older run of it, before a stage run again
    partial.rename(run.folder / name)
    run.done[stage.name] = {"folder": name, "seconds": round(time.perf_counter() - t, 1), "result": result}
    run.save()
    _remember(run, settings)
    print(f"{head}: done in {duration(run.done[stage.name]['seconds'])}")


def _estimate(run: Run, settings: Namespace, todo: list[Stage]) -> float | None:
    """Seconds left, as the last run on the same photos in the same runs folder took."""
    try:
        last = json.loads((run.folder.parent / TIMINGS).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if (last.get("data"), last.get("limit")) != (settings.data, settings.limit):
        return None
    if any(s.name not in last["seconds"] for s in todo):
        return None
    return sum(last["seconds"][s.name] for s in todo)


def _remember(run: Run, settings: Namespace) -> None:
    path = run.folder.parent / TIMINGS
    seconds = {name: done["seconds"] for name, done in run.done.items()}
    path.write_text(json.dumps({"data": settings.data, "limit": settings.limit, "seconds": seconds}) + "\n")


def publish(run: Run, settings: Namespace, artifact: Path) -> dict:
    """The last stage's artifact into ``--out`` under its version; the default too with ``--promote``
    and a verdict that it is better. The intermediate stages' folders go (the state file stays)."""
    from classifier import ModelCard
    from classifier.card import set_default

    out = Path(settings.out)
    final = out / settings.version
    if not final.exists():
        partial = out / f".{settings.version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(artifact, partial, ignore=shutil.ignore_patterns("*.weights.h5"))
        partial.rename(final)
    card = ModelCard.load(final)
    verdict = card.metrics.get("compared_with_default", {"better": False, "verdict": "not compared"})
    promoted = bool(settings.promote and verdict["better"])
    if promoted:
        set_default(out, final.name)
    test = card.metrics["test"]
    summary = {
        "artifact": str(final),
        "accuracy": test["accuracy"],
        "log_loss": test["log_loss"],
        "promoted": promoted,
        "promote_verdict": verdict["verdict"],
    }
    for done in list(run.done.values()):
        if run.folder / done["folder"] != artifact:
            shutil.rmtree(run.folder / done["folder"], ignore_errors=True)
    run.done["published"] = {"folder": artifact.name, "seconds": 0, "result": summary}
    run.save()
    print(f"wrote {final}; see {final / 'report.md'} and {final / 'comparison.md'}")
    if promoted:
        print(f"{final.name} is now the default model")
    else:
        print(f"the default stays ({'no --promote' if verdict['better'] else verdict['verdict']})")
    return summary
