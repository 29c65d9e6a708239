"""Transfer learning as an estimator: phase 1 trains a new head on a frozen backbone (feature
extraction), phase 2 unfreezes the backbone's top at a low learning rate, BatchNorm kept frozen.

Two ways to run the same recipe:
- ``end-to-end``: images flow through augmentation and the whole network every step (GPU).
- ``cached``: the frozen bottom of the backbone runs once per image and its output is cached;
  both phases then train only on the cached maps (orders of magnitude cheaper on a CPU; the price
  is no image augmentation, so dropout and early stopping do the regularising).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import keras
import numpy as np

from .backbones import BackboneSpec, get_backbone

log = logging.getLogger(__name__)


def has_accelerator() -> bool:
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            return any(d.platform != "cpu" for d in jax.devices())
        if backend == "tensorflow":
            import tensorflow as tf

            return bool(tf.config.list_physical_devices("GPU"))
        if backend == "torch":
            import torch

            return torch.cuda.is_available()
    except Exception:  # a broken accelerator stack means: train on CPU
        return False
    return False


def augmentation(seed: int) -> keras.Sequential:
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomRotation(0.05, seed=seed),
            keras.layers.RandomZoom(0.15, seed=seed),
            keras.layers.RandomContrast(0.15, seed=seed),
        ],
        name="augmentation",
    )


@dataclass
class PhaseLog:
    name: str
    epochs: int = 0
    seconds: float = 0.0
    images_per_second: float = 0.0
    history: dict = field(default_factory=dict)
    reached_target_after_s: float | None = None


class _Timing(keras.callbacks.Callback):
    """Per-epoch wall clock and the first moment validation accuracy reaches the target."""

    def __init__(self, target: float, clock_start: float):
        super().__init__()
        self.target, self.clock_start = target, clock_start
        self.reached = None
        self.epoch_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._t)
        if self.reached is None and (logs or {}).get("val_accuracy", 0) >= self.target:
            self.reached = time.perf_counter() - self.clock_start


class TransferClassifier:
    """``fit(x_train, y_train, x_val, y_val)`` on uint8 image arrays, then ``predict_logits``/
    ``predict_proba``/``evaluate``. ``model`` is the exportable network: image -> logits."""

    def __init__(
        self,
        backbone: str | BackboneSpec = "efficientnet_lite0",
        classes: int = 2,
        weights: str | None = "imagenet",
        mode: str = "auto",
        head_epochs: int = 5,
        fine_tune_epochs: int = 5,
        head_lr: float = 1e-3,
        fine_tune_lr: float = 1e-4,
        batch_size: int = 64,
        dropout: float = 0.2,
        patience: int = 3,
        target_accuracy: float = 0.99,
        checkpoint_dir: str | None = None,
        seed: int = 1337,
        progress: int = 1,
    ):
        self.spec = get_backbone(backbone) if isinstance(backbone, str) else backbone
        self.classes, self.weights, self.mode = classes, weights, mode
        self.head_epochs, self.fine_tune_epochs = head_epochs, fine_tune_epochs
        self.head_lr, self.fine_tune_lr = head_lr, fine_tune_lr
        self.batch_size, self.dropout, self.patience = batch_size, dropout, patience
        self.target_accuracy, self.checkpoint_dir, self.seed, self.progress = (
            target_accuracy,
            checkpoint_dir,
            seed,
            progress,
        )
        self.phases: list[PhaseLog] = []
        self.model: keras.Model | None = None

    # -- building -------------------------------------------------------------------------------
    def build(self) -> keras.Model:
        keras.utils.set_random_seed(self.seed)
        weights = self.weights if self.spec.pretrained else None
        size = self.spec.input_size
        features = self.spec.build(weights=weights, input_shape=(size, size, 3))
        x = keras.layers.Dropout(self.dropout, name="head_dropout")(features.output)
        # float32 logits even under mixed precision, for stable softmax and temperature scaling
        logits = keras.layers.Dense(self.classes, name="logits", dtype="float32")(x)
        self.model = keras.Model(features.input, logits, name=f"{self.spec.name}_classifier")
        return self.model

    def _top_start(self) -> int:
        """Index in ``model.layers`` of the first fine-tuned layer."""
        layers = self.model.layers
        top = self.spec.top_from
        if top is None:
            return 1
        if isinstance(top, float):
            return max(1, int(len(layers) * top))
        return [layer.name for layer in layers].index(top)

    def _set_trainable(self, phase: str) -> None:
        start = self._top_start()
        for i, layer in enumerate(self.model.layers):
            is_head = layer.name in ("head_dropout", "logits")
            if phase == "head":
                layer.trainable = is_head or not self.spec.pretrained
            else:
                # BatchNorm stays in inference mode: its statistics came from ImageNet
                layer.trainable = is_head or (i >= start and not isinstance(layer, keras.layers.BatchNormalization))

    def resolved_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "end-to-end" if has_accelerator() or not self.spec.pretrained else "cached"

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, x_train, y_train, x_val, y_val) -> TransferClassifier:
        if self.model is None:
            self.build()
        mode = self.resolved_mode()
        clock = time.perf_counter()
        if mode == "cached":
            cut = self.model.layers[self._top_start()]
            bottom = keras.Model(self.model.input, cut.input, name="frozen_bottom")
            trainable = keras.Model(cut.input, self.model.output, name="top")
            t = time.perf_counter()
            f_train = bottom.predict(x_train, batch_size=self.batch_size, verbose=self.progress)
            f_val = bottom.predict(x_val, batch_size=self.batch_size, verbose=self.progress)
            seconds = time.perf_counter() - t
            self.phases.append(PhaseLog("feature cache", 1, seconds, (len(x_train) + len(x_val)) / seconds))
            train_inputs, val_inputs = (f_train, y_train), (f_val, y_val)
        else:
            trainable = keras.Sequential([augmentation(self.seed), self.model], name="augmented")
            train_inputs, val_inputs = (x_train, y_train), (x_val, y_val)
        for phase, epochs, lr in (
            ("head", self.head_epochs, self.head_lr),
            ("fine-tune", self.fine_tune_epochs, self.fine_tune_lr),
        ):
            if epochs <= 0 or (phase == "fine-tune" and not self.spec.pretrained and self.head_epochs > 0):
                continue
            self._set_trainable(phase)
            self._run_phase(phase, trainable, train_inputs, val_inputs, epochs, lr, clock)
        return self

    def _run_phase(self, phase, net, train, val, epochs, lr, clock):
        net.compile(
            optimizer=keras.optimizers.Adam(lr),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        timing = _Timing(self.target_accuracy, clock)
        callbacks = [
            timing,
            keras.callbacks.EarlyStopping("val_loss", patience=self.patience, restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.3, patience=1, min_lr=lr / 100),
        ]
        if self.checkpoint_dir:
            path = f"{self.checkpoint_dir}/best-{phase}.weights.h5"
            callbacks.append(
                keras.callbacks.ModelCheckpoint(path, "val_loss", save_best_only=True, save_weights_only=True)
            )
        log.info(
            "phase %s: %d trainable weights, %d epochs at lr %g",
            phase,
            sum(int(np.prod(w.shape)) for w in net.trainable_weights),
            epochs,
            lr,
        )
        t = time.perf_counter()
        history = net.fit(
            *train,
            validation_data=val,
            epochs=epochs,
            batch_size=self.batch_size,
            callbacks=callbacks,
            shuffle=True,
            verbose=self.progress,
        )
        seconds = time.perf_counter() - t
        done = len(history.epoch)
        train_s = sum(timing.epoch_seconds) or seconds
        self.phases.append(
            PhaseLog(
                phase,
                done,
                seconds,
                len(train[0]) * done / train_s,
                {k: [float(v) for v in vals] for k, vals in history.history.items()},
                timing.reached,
            )
        )

    def to_float32(self) -> TransferClassifier:
        """The trained network rebuilt with float32 compute (its weights were float32 all along):
        bfloat16 is for a GPU's training steps; serving, evaluation and LiteRT conversion want float32."""
        trained = self.model
        keras.mixed_precision.set_global_policy("float32")
        weights, self.weights = self.weights, None  # no need to load the pretrained weights again
        try:
            self.build()
        finally:
            self.weights = weights
        self.model.set_weights(trained.get_weights())
        return self

    # -- predicting -----------------------------------------------------------------------------
    def predict_logits(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(images, batch_size=self.batch_size, verbose=0), np.float64)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        from classifier.model import softmax

        return softmax(self.predict_logits(images))

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.predict_logits(images).argmax(-1)

    def evaluate(self, images: np.ndarray, labels: np.ndarray) -> dict:
        from .evaluate import classification_metrics

        return classification_metrics(self.predict_proba(images), labels)
