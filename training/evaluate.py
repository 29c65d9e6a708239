"""Held-out metrics and calibration: accuracy, log loss, confusion, ECE, temperature scaling."""

from __future__ import annotations

import numpy as np

from classifier.model import softmax


def log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, 1.0)
    return float(-np.log(p).mean())


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> dict:
    """Confidence-vs-accuracy bins of the top class, and the expected calibration error."""
    confidence = probabilities.max(-1)
    correct = probabilities.argmax(-1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            acc, conf = float(correct[mask].mean()), float(confidence[mask].mean())
            ece += mask.mean() * abs(acc - conf)
            rows.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[b + 1]),
                    "count": int(mask.sum()),
                    "accuracy": acc,
                    "confidence": conf,
                }
            )
    return {"ece": float(ece), "bins": rows}


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray, class_names=None) -> dict:
    k = probabilities.shape[1]
    predicted = probabilities.argmax(-1)
    confusion = np.zeros((k, k), int)
    np.add.at(confusion, (labels, predicted), 1)
    rel = reliability(probabilities, labels)
    out = {
        "count": int(len(labels)),
        "accuracy": float((predicted == labels).mean()) if len(labels) else 0.0,
        "log_loss": log_loss(probabilities, labels) if len(labels) else 0.0,
        "ece": rel["ece"],
        "confusion": confusion.tolist(),  # rows: true class, columns: predicted
        "reliability": rel["bins"],
    }
    if class_names:
        out["per_class_accuracy"] = {
            name: float(confusion[i, i] / max(confusion[i].sum(), 1)) for i, name in enumerate(class_names)
        }
    return out


def calibrated(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities from (N, K) logits, or the mean over views of (V, N, K) logits (e.g. photo
    and mirror image, as the bot serves it)."""
    logits = np.asarray(logits)
    if logits.ndim == 3:
        return np.mean([softmax(view, temperature) for view in logits], axis=0)
    return softmax(logits, temperature)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising validation log loss (golden-section search on log T)."""

    def nll(log_t):
        return log_loss(calibrated(logits, float(np.exp(log_t))), labels)

    lo, hi = np.log(0.05), np.log(20.0)
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return float(np.exp((lo + hi) / 2))


def worst_mistakes(probabilities: np.ndarray, labels: np.ndarray, n: int = 16) -> list[int]:
    """Indices of the misclassified examples the model was most sure about."""
    wrong = np.flatnonzero(probabilities.argmax(-1) != labels)
    loss = -np.log(np.clip(probabilities[wrong, labels[wrong]], 1e-12, 1))
    return wrong[np.argsort(-loss)][:n].tolist()
