"""Writing an artifact into a folder (``models/<version>/``, a run folder's stage), checked as it loads back."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from classifier import Classifier, ModelCard
from classifier.probes import record as record_probes
from training.compile import compile_artifact

log = logging.getLogger(__name__)
DISPLAY = {"cat": "kitty", "dog": "puppy"}
EMOJI = {"cat": "🐱", "dog": "🐶"}


def export(model, card: ModelCard, out_root: Path, with_litert: bool = True, name: str | None = None) -> Path:
    """Save model + card into ``out_root/<name or version>`` via a temporary folder, so a crash never
    leaves a half-written artifact under the final name. Checks it loads back."""
    out_root = Path(out_root)
    final = out_root / (name or card.version)
    if final.exists():
        raise FileExistsError(f"{final} already exists; pick another --version")
    tmp = out_root / f".{final.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save(tmp / card.model_file)
    card.save(tmp)
    card.extra["probes"] = record_probes(Classifier.load(tmp, runtime="keras"))  # also checks card vs model
    card.save(tmp)
    if with_litert:
        try:
            diff = compile_artifact(tmp, model)
            log.info("LiteRT serving file written; max probability difference vs Keras %.2e", diff)
        except RuntimeError as exc:  # e.g. trained on JAX: compile later with python -m training.compile
            log.warning("no LiteRT file: %s", exc)
    tmp.rename(final)
    return final
