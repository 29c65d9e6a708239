"""A rebuild's run folder (``runs/<version>/``): its settings, the stages it has finished and the
model it published, in ``rebuild.json``; a lock so one process at a time works in it."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from argparse import Namespace
from dataclasses import dataclass, field
from pathlib import Path

STATE, LOCK = "rebuild.json", "rebuild.lock"
PHOTO_FOLDERS = ("faces", "lookalike", "pets_real")
# what --resume may name again (a run carried from another machine); the rest is the run's own
OVERRIDES = ("data", *PHOTO_FOLDERS, "out")
PER_INVOCATION = ("resume", "promote", "stop_after", "progress")
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a folder name in models/, as models/DEFAULT names it


@dataclass
class Run:
    folder: Path
    settings: dict
    done: dict = field(default_factory=dict)  # stage -> {"folder", "seconds", "result"}
    published: dict | None = None  # the summary, once the model is in --out

    @classmethod
    def start(cls, args: Namespace) -> Run:
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "resume"}
        settings["out"] = settings.get("out") or "models"
        backbone = settings["backbone"].replace("efficientnet_", "")
        settings["version"] = args.version or f"{backbone}-{dt.date.today():%Y%m%d}-{int(time.time()) % 100000:05d}"
        if not VERSION.fullmatch(settings["version"]):
            raise ValueError(f"--version {settings['version']!r}: letters, digits, '.', '_' and '-' only")
        _check_folders(settings)
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
    def resume(cls, folder: Path, again: Namespace, defaults: dict) -> Run:
        """The run in ``folder``, with ``again``'s photo folders and ``--out`` where given; any other
        setting given differently from its default is refused (the run keeps the settings it began with)."""
        try:
            state = json.loads((Path(folder) / STATE).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise FileNotFoundError(f"{folder} is not a rebuild's run folder ({STATE}: {exc})") from None
        ignored = [k for k, v in vars(again).items() if k not in OVERRIDES + PER_INVOCATION and v != defaults.get(k)]
        if ignored:
            names = ", ".join("--" + k.replace("_", "-") for k in ignored)
            raise ValueError(f"{names}: a resumed run keeps its own settings (only the folders and --out change)")
        run = cls(Path(folder), state["settings"], state["done"], state.get("published"))
        for key in OVERRIDES:
            if getattr(again, key, None):
                run.settings[key] = str(getattr(again, key))
        run.settings["promote"] = bool(again.promote) or bool(run.settings.get("promote"))
        run.settings["stop_after"] = again.stop_after
        _check_folders(run.settings)
        if (run.folder / "pets" / "card.json").is_file() and any(getattr(again, key, None) for key in OVERRIDES):
            _check_classes(run)
        return run

    def save(self) -> None:
        tmp = self.folder / (STATE + ".tmp")
        state = {"settings": self.settings, "done": self.done, "published": self.published}
        tmp.write_text(json.dumps(state, indent=1) + "\n")
        tmp.replace(self.folder / STATE)

    def args(self) -> Namespace:
        args = Namespace(**self.settings)
        for key in PHOTO_FOLDERS:
            setattr(args, key, Path(getattr(args, key)) if getattr(args, key, None) else None)
        return args

    def forget_from(self, names: list[str]) -> None:
        """A stage runs again: it and every stage after it (``names``) are no longer done."""
        import shutil

        for name in names:
            if self.done.pop(name, None) is not None:
                shutil.rmtree(self.folder / name, ignore_errors=True)
        self.save()

    def lock(self) -> None:
        """Refuse a second process in the same run folder (a lock left by a dead one is taken over)."""
        path = self.folder / LOCK
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pid = int(path.read_text().strip() or 0)
                if pid and _alive(pid):
                    raise RuntimeError(f"{self.folder} is being rebuilt by process {pid}") from None
                path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            return
        raise RuntimeError(f"{self.folder}: cannot take {LOCK}")

    def unlock(self) -> None:
        (self.folder / LOCK).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_folders(settings: dict) -> None:
    """Before hours of fine-tuning, not after."""
    if not Path(settings["data"]).is_dir():
        raise FileNotFoundError(f"dataset directory not found: {settings['data']}")
    for key in PHOTO_FOLDERS:
        if settings.get(key) and not Path(settings[key]).is_dir():
            raise FileNotFoundError(f"not a folder: {settings[key]} (--{key.replace('_', '-')})")


def _check_classes(run: Run) -> None:
    """A folder named again must hold the classes the run's model learned."""
    from classifier import ModelCard

    from .data import discover

    learned = ModelCard.load(run.folder / "pets").labels
    found = discover(run.settings["data"]).class_names
    if found != learned:
        raise ValueError(f"{run.settings['data']} has the classes {found}; this run's model learned {learned}")
