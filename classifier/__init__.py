"""Inference only: a model artifact from ``models/`` -> probabilities for any image.

Knows nothing of Telegram or training. ``Classifier.load()`` then ``predict(image)``.
"""

from .card import ModelCard, ModelError, default_model_dir
from .images import UnreadableImage, load_image
from .model import Classifier, Prediction

__all__ = ["Classifier", "Prediction", "ModelCard", "ModelError", "UnreadableImage", "default_model_dir", "load_image"]
