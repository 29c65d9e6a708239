"""Fitting the heads that read faces, on the backbone's own features (one forward pass per crop):

- ``human``: a person's face vs whatever else YuNet boxes (pets' faces, fur, texture). Positives:
  faces in ``faces/`` and ``lookalike/``; negatives: YuNet's boxes in pet photos of the training
  split, and each of those photos' central square (the pet itself, at face scale).
  Pet photos sometimes show their owner too, so negatives that a first fit is sure are people are
  dropped and counted.
- ``people``: dog-like vs cat-like face, on the weak labels of ``lookalike/``, strongly regularised;
  measured across its two sources (fit on one, score the other).
- calibration: the people head's logit is centred on the median face of ``faces/`` and scaled so
  that the middle 80% of those faces spread over about 21-79%: a person's percentage says where
  the face falls among faces, and the answers balance near 50%.

Logistic regressions from scikit-learn (well-kept, exact, deterministic); the scaler is folded
into the weights, so the heads are plain Dense layers in the serving graph.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classifier.faces import FaceDetector, Photo, aligned_crop
from classifier.images import UnreadableImage, load_image, to_model_input

from .heads import LinearHead
from .progress import steps

log = logging.getLogger(__name__)
PEOPLE_C = 0.001  # best AUC across the two lookalike sources among 3e-4 .. 3e-2
HUMAN_C = 0.01
SURE_PERSON = 0.9  # a "negative" crop the first fit is this sure of is a pet owner's face
SPREAD_LOGIT = 1.3  # the 10th and 90th percentile face land at sigmoid(-/+1.3) = 21% / 79%
FACE_SCORE = 0.5  # YuNet boxes this confident or more are used for fitting


@dataclass
class CropFeatures:
    """Pooled features (and human-head inputs) of face crops, each averaged with its mirror image."""

    features: np.ndarray
    human_inputs: np.ndarray
    owner: np.ndarray  # index of the source image of each crop
    score: np.ndarray  # YuNet's confidence
    unreadable: list[str] = field(default_factory=list)

    def take(self, mask: np.ndarray) -> CropFeatures:
        return CropFeatures(self.features[mask], self.human_inputs[mask], self.owner[mask], self.score[mask])


def faces_in(paths: list[Path], largest_only: bool, detector: FaceDetector, unreadable: list[str] | None = None):
    """(index, image, its Photo, YuNet's faces scoring FACE_SCORE or more) for each readable image,
    in memory only; unreadable paths go to ``unreadable``."""
    for i, path in enumerate(steps(paths, "photos, their faces")):
        try:
            image = load_image(path)
        except UnreadableImage:
            if unreadable is not None:
                unreadable.append(str(path))
            continue
        photo = Photo(image)
        found = [f for f in detector.detect(photo) if f.score >= FACE_SCORE]
        if largest_only and found:
            found = [max(found, key=lambda f: f.box.area)]
        yield i, image, photo, found


def crop_features(
    feature_model,
    paths: list[Path],
    size: int,
    largest_only: bool,
    centre: bool = False,
    detector: FaceDetector | None = None,
    batch=64,
) -> CropFeatures:
    """Find faces in each image, crop them aligned, run ``feature_model`` (``with_features``).
    ``centre`` adds each image's central square too (in a pet photo: the pet, at face scale)."""
    detector = detector or FaceDetector(score=FACE_SCORE)
    feats, human, owner, score, unreadable = [], [], [], [], []
    pending: list[np.ndarray] = []

    def flush():
        if not pending:
            return
        x = np.stack(pending + [c[:, ::-1] for c in pending]).astype(np.float32)
        out = feature_model.predict_on_batch(x)
        n = len(pending)
        feats.append((np.asarray(out["features"][:n]) + np.asarray(out["features"][n:])) / 2)
        human.append((np.asarray(out["human_inputs"][:n]) + np.asarray(out["human_inputs"][n:])) / 2)
        pending.clear()

    for i, image, photo, found in faces_in(paths, largest_only, detector, unreadable):
        crops = [(aligned_crop(photo, face, size), face.score) for face in found]
        if centre:
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            crops.append((to_model_input(image.crop((left, top, left + side, top + side)), size), 0.0))
        for crop, face_score in crops:
            pending.append(crop)
            owner.append(i)
            score.append(face_score)
            if len(pending) == batch // 2:
                flush()
    flush()
    width = feature_model.output["features"].shape[-1], feature_model.output["human_inputs"].shape[-1]
    return CropFeatures(
        np.concatenate(feats) if feats else np.zeros((0, width[0])),
        np.concatenate(human) if human else np.zeros((0, width[1])),
        np.asarray(owner, int),
        np.asarray(score, float),
        unreadable,
    )


def _logistic(x: np.ndarray, y: np.ndarray, c: float, standardise: bool, balanced: bool = False) -> LinearHead:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(0) if standardise else np.zeros(x.shape[1])
    std = x.std(0) + 1e-6 if standardise else np.ones(x.shape[1])
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced" if balanced else None)
    model.fit((x - mean) / std, y)
    w = model.coef_[0] / std  # fold the scaler: (x - m) / s @ c + b = x @ (c / s) + (b - m / s @ c)
    return LinearHead(w, float(model.intercept_[0] - mean @ w))


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def fit_people(
    features: np.ndarray, dog_like: np.ndarray, sources: np.ndarray, c: float = PEOPLE_C, standardise: bool = False
) -> tuple[LinearHead, dict]:
    """The dog-like head on all labelled faces, and its AUC on each source when fitted on the others
    (the backbone's features by default; ``training.face_head`` passes face embeddings)."""
    by_source = {}
    for source in np.unique(sources):
        held = sources == source
        if len(np.unique(dog_like[held])) == 2 and len(np.unique(dog_like[~held])) == 2:
            head = _logistic(features[~held], dog_like[~held], c, standardise)
            by_source[str(source)] = auc(head.decision(features[held]), dog_like[held])
    return _logistic(features, dog_like, c, standardise), {"auc_held_out_source": by_source}


def fit_human(positives: np.ndarray, negatives: np.ndarray) -> tuple[LinearHead, dict]:
    x = np.vstack([positives, negatives])
    y = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
    first = _logistic(x, y, HUMAN_C, standardise=True, balanced=True)
    owners = 1 / (1 + np.exp(-first.decision(negatives))) >= SURE_PERSON
    keep = np.r_[np.ones(len(positives), bool), ~owners]
    head = _logistic(x[keep], y[keep], HUMAN_C, standardise=True, balanced=True)
    p_pos = 1 / (1 + np.exp(-head.decision(positives)))
    p_neg = 1 / (1 + np.exp(-head.decision(negatives[~owners])))
    return head, {
        "positives": int(len(positives)),
        "negatives": int((~owners).sum()),
        "negatives_dropped_as_people": int(owners.sum()),
        "fit_recall": float((p_pos >= 0.5).mean()),
        "fit_false_rate": float((p_neg >= 0.5).mean()) if len(p_neg) else 0.0,
    }


def calibration(logits: np.ndarray) -> dict:
    """Centre and scale for ``ModelCard.people_logit``, from the people head's logits on faces."""
    low, mid, high = np.percentile(logits, [10, 50, 90])
    return {"center": float(mid), "scale": float(max(high - low, 1e-6) / (2 * SPREAD_LOGIT))}
