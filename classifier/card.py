"""The model card: the JSON that travels with every model artifact in ``models/<version>/``."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

CARD_FILE = "card.json"
MODEL_FILE = "model.keras"
DEFAULT_POINTER = "DEFAULT"  # a text file in models/ naming the default version's folder
FORMAT = 1


class ModelError(RuntimeError):
    """No usable model: missing, or its card and weights disagree. The message says which."""


@dataclass
class ModelCard:
    version: str
    labels: list[str]  # in the model's output order
    display_names: dict[str, str]
    emoji: dict[str, str]
    input_size: int
    backbone: str
    preprocessing: str = "RGB pixels in [0, 255], whole image resized (bilinear, no crop); scaling is inside the model"
    output: str = "logits"  # or "probabilities"
    temperature: float = 1.0
    training_data: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    created: str = ""
    model_file: str = MODEL_FILE
    format: int = FORMAT
    extra: dict = field(default_factory=dict)
    # multi-head artifacts (training/heads.py): how the imagenet and people outputs are read, e.g.
    # {"imagenet": {"dog": [[151, 268]], "cat": [[281, 285]]},
    #  "people": {"center": c, "scale": s, ...}, "subject": {"face_score": 0.6, ...},
    #  "face_embedding": {"weights": [128 numbers], "bias": b, "center": c, "scale": s, ...}}
    # (face_embedding: people's answer from the face-recognition embedding, classifier/face_embedding.py)
    heads: dict = field(default_factory=dict)

    def display(self, label: str) -> str:
        return self.display_names.get(label, label)

    def people_logit(self, logits):
        """The people head's raw logit centred and scaled, so that the faces it was calibrated on
        spread over the range around 50% once through a sigmoid."""
        import numpy as np

        people = self.heads.get("people", {})
        return (np.asarray(logits, np.float64) - people.get("center", 0.0)) / people.get("scale", 1.0)

    def face_embedding_logit(self, embeddings):
        """The dog-like logit of face embeddings (N, 128), centred and scaled like ``people_logit``."""
        import numpy as np

        head = self.heads["face_embedding"]
        raw = np.asarray(embeddings, np.float64) @ np.asarray(head["weights"], np.float64) + head["bias"]
        return (raw - head["center"]) / head["scale"]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    def save(self, directory: Path) -> Path:
        path = Path(directory) / CARD_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, directory: Path) -> ModelCard:
        path = Path(directory) / CARD_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{directory} has no {CARD_FILE}; is it a model folder?") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path} is not readable JSON: {exc}") from None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        missing = [k for k in ("version", "labels", "input_size", "backbone") if k not in known]
        if missing:
            raise ModelError(f"{path} lacks {', '.join(missing)}")
        known.setdefault("display_names", {})
        known.setdefault("emoji", {})
        card = cls(**known)
        if len(card.labels) < 2 or len(set(card.labels)) != len(card.labels):
            raise ModelError(f"{path}: labels must be at least two distinct names, got {card.labels}")
        if card.output not in ("logits", "probabilities"):
            raise ModelError(f"{path}: output must be 'logits' or 'probabilities'")
        if not card.temperature > 0:
            raise ModelError(f"{path}: temperature must be positive")
        scale = card.heads.get("people", {}).get("scale", 1.0)
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ModelError(f"{path}: heads.people.scale must be a positive number")
        return card


def models_root() -> Path:
    return Path(__file__).resolve().parent.parent / "models"


def default_model_dir(root: Path | None = None) -> Path:
    """The folder named by ``models/DEFAULT``."""
    root = Path(root) if root else models_root()
    pointer = root / DEFAULT_POINTER
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ModelError(
            f"no model is installed: {pointer} does not exist. Train one with "
            "`python -m training --data DIR --promote`, or pass --model DIR"
        ) from None
    return root / _folder_name(root, name, pointer)


def _folder_name(root: Path, name: str, where) -> str:
    """``name`` if it names a folder inside ``root`` (a symlink too, while it leads inside), else ModelError:
    whoever can write the pointer must not make the bot load a model from anywhere else."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or Path(name).is_absolute():
        raise ModelError(f"{where} must name a folder inside {root}, not {name!r}")
    try:
        inside, target = Path(root).resolve(), (Path(root) / name).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise ModelError(f"{where} names {name!r}, which does not resolve: {exc}") from None
    if target == inside or not target.is_relative_to(inside):
        raise ModelError(f"{where} names {name!r}, which leads outside {root} (to {target})")
    return name


def set_default(root: Path, version_dir_name: str) -> None:
    """Point ``models/DEFAULT`` at a version, atomically (a reader never sees half a name)."""
    pointer = Path(root) / DEFAULT_POINTER
    _folder_name(Path(root), version_dir_name, "a default model")
    tmp = pointer.with_suffix(".tmp")
    tmp.write_text(version_dir_name + "\n", encoding="utf-8")
    tmp.replace(pointer)
