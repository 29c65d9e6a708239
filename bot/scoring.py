"""The bot's view of the classifier: micro-batched, off the event loop, with a busy limit."""

from __future__ import annotations

from classifier import Classifier, Prediction
from classifier.batching import MicroBatcher, Overloaded

Busy = Overloaded


class Scorer:
    def __init__(self, classifier: Classifier, max_pending: int = 64):
        self.classifier = classifier
        self._batcher = MicroBatcher(classifier, max_pending=max_pending)

    @property
    def card(self):
        return self.classifier.card

    async def score(self, image: bytes) -> Prediction:
        return await self._batcher.predict(image)

    async def aclose(self) -> None:
        await self._batcher.aclose()
