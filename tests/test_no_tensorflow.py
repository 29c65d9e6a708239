"""Serving needs neither TensorFlow nor Keras: they are the training extra's. The shipped model answers,
and "why?" draws its heat map for a pet and for a person, in a process where importing them fails."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAINING_ONLY = ("tensorflow", "tensorflow-cpu", "keras", "jax", "torch")

SERVE = """
import importlib.abc, sys

class NoTraining(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "jax", "torch"):
            raise ImportError(f"{name} is not installed here")

sys.meta_path.insert(0, NoTraining())
import numpy as np, skimage.data
from PIL import Image
from classifier import Classifier
from classifier.explain import Explainer
from classifier.selfie import SelfieScorer

classifier = Classifier.load().warm_up()
scorer, explainer = SelfieScorer(classifier), Explainer(classifier)
cat = Image.open("models/examples/cat.jpg")
for photo in (cat, Image.fromarray(skimage.data.astronaut())):
    result = scorer.score(photo)
    drawn = np.abs(np.asarray(explainer.overlay(result.image, result), int) - np.asarray(result.image, int))
    print(result.subject, int(drawn.sum() > 0))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
"""


def test_the_base_install_has_no_training_frameworks():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = [d.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip() for d in project["dependencies"]]
    assert not set(base) & set(TRAINING_ONLY), base
    assert {"tensorflow-cpu", "keras"} <= {d.split(">")[0] for d in project["optional-dependencies"]["training"]}
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert not [name for name in TRAINING_ONLY if f"\n{name}==" in lock]


def test_the_shipped_model_answers_and_explains_without_tensorflow():
    child = subprocess.run([sys.executable, "-c", SERVE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stdout.split("\n")[:3] == ["pet 1", "person 1", "[]"], child.stdout
