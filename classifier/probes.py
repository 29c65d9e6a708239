"""Built-in probe images and the canary check a model must pass before it serves.

At export the artifact's own answers on these probes are written into its card. Before a running
bot switches to a new model, the model is loaded and must give those same answers (within
``TOLERANCE``): a truncated file, a wrong runtime, a card from another model or a broken
preprocessing step all show up here instead of in users' chats.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .images import load_image, to_model_input

TOLERANCE = 0.02
EXAMPLE = Path(__file__).resolve().parent.parent / "models" / "examples" / "cat.jpg"


def probe_images(size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261124)
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    checker = ((np.indices((size, size)).sum(0) // max(size // 8, 1)) % 2 * 255).astype(np.uint8)
    probes = {
        "noise": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
        "ramp": np.stack(
            [ramp[None, :].repeat(size, 0), ramp[:, None].repeat(size, 1), np.full((size, size), 128.0)], -1
        ).astype(np.uint8),
        "checker": np.stack([checker] * 3, -1),
    }
    if EXAMPLE.is_file():
        cat = load_image(EXAMPLE)
        probes["example_cat"] = to_model_input(cat, size)
        probes["example_cat_mirrored"] = to_model_input(cat.transpose(Image.Transpose.FLIP_LEFT_RIGHT), size)
    return probes


def record(classifier) -> dict[str, list[float]]:
    """The model's answers on the probes, for its card."""
    probes = probe_images(classifier.card.input_size)
    probs = classifier.predict_proba_arrays(np.stack(list(probes.values())))
    return {name: [round(float(p), 6) for p in row] for name, row in zip(probes, probs)}


def canary(classifier) -> tuple[bool, str]:
    """(passed, why) for a freshly loaded classifier."""
    expected = classifier.card.extra.get("probes")
    probes = probe_images(classifier.card.input_size)
    try:
        probs = classifier.predict_proba_arrays(np.stack(list(probes.values())))
    except Exception as exc:  # any failure to answer is a failed canary, with its reason
        return False, f"the model could not answer the probe images: {type(exc).__name__}: {exc}"
    if not np.all(np.isfinite(probs)) or not np.allclose(probs.sum(-1), 1.0, atol=1e-4):
        return False, "the model's answers on the probe images are not probabilities"
    if not expected:
        return True, "answers are valid probabilities (the card records no probe answers to compare)"
    worst, where = 0.0, ""
    for name, row in zip(probes, probs):
        if name in expected:
            diff = float(np.abs(np.asarray(expected[name]) - row).max())
            if diff > worst:
                worst, where = diff, name
    if worst > TOLERANCE:
        return False, f"probe '{where}' answered {worst:.3f} away from what the model card records"
    return True, f"all {len(expected)} probe images answered as the model card records (max difference {worst:.4f})"
