"""How a result is said: whole percentages that add up to 100, in the house style."""

from __future__ import annotations

import math


def whole_percentages(probabilities: list[float]) -> list[int]:
    """Round to whole percents summing to exactly 100 (largest remainder method)."""
    scaled = [max(p, 0.0) * 100 for p in probabilities]
    total = sum(scaled) or 1.0
    scaled = [s * 100 / total for s in scaled]
    floors = [math.floor(s) for s in scaled]
    order = sorted(range(len(scaled)), key=lambda i: (scaled[i] - floors[i], scaled[i]), reverse=True)
    for i in order[: 100 - sum(floors)]:
        floors[i] += 1
    return floors


def sentence(percents: dict[str, int]) -> str:
    """``you are 73% puppy, 27% kitty``: biggest share first."""
    parts = sorted(percents.items(), key=lambda kv: -kv[1])
    return "you are " + ", ".join(f"{p}% {name}" for name, p in parts)


def indefinite(noun: str) -> str:
    """``noun`` after "a" or "an", by the sound it starts with: "an Egyptian Mau", "a Siamese". The first
    letter tells it for every breed name in ``classifier/breeds.py`` (none starts "uni..." or "hour")."""
    return ("an " if noun[:1].lower() in ("a", "e", "i", "o", "u") else "a ") + noun
