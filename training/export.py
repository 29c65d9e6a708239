"""Writing an artifact into ``models/<version>/`` and the promote rule."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from classifier import Classifier, ModelCard, ModelError
from classifier.card import default_model_dir, set_default
from classifier.probes import record as record_probes
from training.compile import compile_artifact
from training.evaluate import log_loss

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


def compare_with_default(
    candidate: Path, out_root: Path, test_images: np.ndarray, test_labels: np.ndarray, class_names: list[str]
) -> tuple[bool, str]:
    """Evaluate the current default on the same test images; the candidate must beat it."""
    new = Classifier.load(candidate)
    new_p = new.predict_proba_arrays(test_images)
    new_acc, new_ll = float((new_p.argmax(-1) == test_labels).mean()), log_loss(new_p, test_labels)
    try:
        current = Classifier.load(default_model_dir(out_root))
    except ModelError:
        return True, "no current default model"
    if current.card.labels != class_names:
        return False, f"the current default has labels {current.card.labels}, not {class_names}"
    from PIL import Image

    from classifier.images import to_model_input

    size = current.card.input_size
    imgs = (
        test_images
        if test_images.shape[1] == size
        else np.stack([to_model_input(Image.fromarray(im), size) for im in test_images])
    )
    old_p = current.predict_proba_arrays(imgs)
    old_acc, old_ll = float((old_p.argmax(-1) == test_labels).mean()), log_loss(old_p, test_labels)
    better = new_acc > old_acc or (new_acc == old_acc and new_ll < old_ll)
    verdict = (
        f"candidate accuracy {new_acc:.4f}, log loss {new_ll:.4f} vs current default "
        f"{current.card.version}: accuracy {old_acc:.4f}, log loss {old_ll:.4f} "
        f"on the same {len(test_labels)} test images"
    )
    return better, verdict


def promote(candidate: Path, out_root: Path) -> None:
    set_default(out_root, candidate.name)
