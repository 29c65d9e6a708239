"""The first stage of a rebuild: data -> fine-tune -> calibrate -> evaluate -> the pet classifier's
artifact (model, card, report) in the run folder. ``training/rebuild.py`` runs the stages after it."""

from __future__ import annotations

import datetime as dt
import logging
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from classifier import ModelCard
from classifier.model import softmax

from . import data as datasets
from .evaluate import calibrated, classification_metrics, fit_temperature, worst_mistakes
from .export import DISPLAY, EMOJI, export
from .report import write_report
from .transfer import TransferClassifier, has_accelerator

log = logging.getLogger(__name__)


def device_description() -> str:
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return ", ".join(sorted({d.device_kind for d in jax.devices()}))
    if has_accelerator():
        return f"{backend} GPU"
    return f"CPU ({platform.processor() or platform.machine()}, {_cores()} cores)"


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def train_pets(args, root: Path, name: str, version: str) -> Path:
    """Fine-tune the pet classifier and write its artifact as ``root/name`` (checkpoints in ``root``)."""
    import keras

    dataset = datasets.discover(args.data)
    if args.limit:
        keep = np.concatenate(
            [np.flatnonzero(dataset.labels == c)[: args.limit] for c in range(len(dataset.class_names))]
        )
        dataset = dataset.subset(np.sort(keep))
    print(f"data: {len(dataset.paths)} images in {dataset.root} ({dataset.layout} layout), balance {dataset.balance()}")
    splits = datasets.split(dataset.labels, args.val_fraction, args.test_fraction, args.seed)

    model = TransferClassifier(
        args.backbone,
        classes=len(dataset.class_names),
        weights=args.weights,
        mode=args.mode,
        head_epochs=args.head_epochs,
        fine_tune_epochs=args.fine_tune_epochs,
        head_lr=args.head_lr,
        fine_tune_lr=args.fine_tune_lr,
        batch_size=args.batch_size,
        seed=args.seed,
        checkpoint_dir=None,
        progress=1 if args.progress else 2,
    )
    if args.mixed_precision == "on" or (args.mixed_precision == "auto" and has_accelerator()):
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    size = model.spec.input_size

    arrays, unreadable = {}, 0
    for part in ("train", "val", "test"):
        sub = dataset.subset(getattr(splits, part))
        images, ok = datasets.load_arrays(sub.paths, size)
        unreadable += int((~ok).sum())
        arrays[part] = (images[ok], sub.labels[ok], [p for p, good in zip(sub.paths, ok) if good])
    if unreadable:
        print(f"skipped {unreadable} unreadable files")
    # which photos it learned from (names only, in the run folder): the verdict checks that none of them is
    # in the test photos of the model it must beat
    fitted = dataset.subset(np.concatenate([splits.train, splits.val])).paths
    (root / datasets.TRAIN_FILES).write_text("".join(datasets.photo_key(p) + "\n" for p in fitted))
    (x_tr, y_tr, _), (x_va, y_va, _), (x_te, y_te, test_paths) = (
        arrays["train"],
        arrays["val"],
        arrays["test"],
    )
    if min(len(y_tr), len(y_va), len(y_te)) == 0:
        raise ValueError("too few readable images to make train, validation and test splits")

    model.checkpoint_dir = str(root)
    print(f"training {model.spec.name} ({model.resolved_mode()} mode) on {device_description()}")
    t0 = time.perf_counter()
    model.fit(x_tr, y_tr, x_va, y_va)
    train_seconds = time.perf_counter() - t0
    if keras.mixed_precision.global_policy().name != "float32":
        model.to_float32()  # what ships is measured

    # evaluated the way the bot serves: the mean of the photo and its mirror image
    def views(x):
        return np.stack([model.predict_logits(x), model.predict_logits(x[:, :, ::-1])])

    val_views, test_views = views(x_va), views(x_te)
    temperature = fit_temperature(val_views, y_va)
    names = dataset.class_names
    raw = classification_metrics(calibrated(test_views, 1.0), y_te, names)
    single = classification_metrics(softmax(test_views[0], fit_temperature(val_views[0], y_va)), y_te, names)
    test_probs = calibrated(test_views, temperature)
    test = classification_metrics(test_probs, y_te, names)

    reached = [p.reached_target_after_s for p in model.phases if p.reached_target_after_s]
    mistakes = worst_mistakes(test_probs, y_te)
    report = {
        "version": version,
        "backbone": model.spec.name,
        "backbone_source": model.spec.source,
        "input_size": size,
        "mode": model.resolved_mode(),
        "device": device_description(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "class_names": names,
        "data": {
            "root": str(dataset.root),
            "layout": dataset.layout,
            "images": len(dataset.paths),
            "unreadable": unreadable,
            "balance": dataset.balance(),
        },
        "split": {"seed": splits.seed, **splits.fractions, "train": len(y_tr), "val": len(y_va), "test": len(y_te)},
        "temperature": temperature,
        "metrics": {"test": test, "test_uncalibrated": raw, "test_single_view": single},
        "phases": [asdict(p) for p in model.phases],
        "train_seconds": train_seconds,
        "target_accuracy": model.target_accuracy,
        "time_to_target_s": min(reached) if reached else None,
        "worst_mistakes": [
            {
                "file": test_paths[i].name,
                "true": names[y_te[i]],
                "said": names[int(test_probs[i].argmax())],
                "confidence": float(test_probs[i].max()),
            }
            for i in mistakes
        ],
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    card = ModelCard(
        version=version,
        labels=names,
        display_names={n: DISPLAY.get(n, n) for n in names},
        emoji={n: EMOJI[n] for n in names if n in EMOJI},
        input_size=size,
        backbone=model.spec.name,
        temperature=temperature,
        training_data={
            "dataset": dataset.root.name,
            "layout": dataset.layout,
            "images": len(dataset.paths),
            "split": report["split"],
        },
        metrics={
            "test": {k: test[k] for k in ("count", "accuracy", "log_loss", "ece", "confusion")},
            "test_single_view": {k: single[k] for k in ("accuracy", "log_loss", "ece")},
            "evaluation": "held-out test split; mean of photo and mirror image, temperature-scaled",
            "training": {
                "device": report["device"],
                "mode": report["mode"],
                "images_per_second": {p.name: round(p.images_per_second, 1) for p in model.phases},
                "seconds": round(train_seconds, 1),
                "time_to_target_s": report["time_to_target_s"],
                "target_accuracy": model.target_accuracy,
            },
        },
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    artifact = export(model.model, card, root, name=name, with_litert=False)
    write_report(artifact, report, x_te, test_probs, y_te, mistakes, private_dir=root)
    return artifact
