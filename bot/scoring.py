"""Runs the classifier off the event loop, with a bound on how much work may wait."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from classifier import Classifier, Prediction


class Busy(Exception):
    """More photos are waiting than ``max_pending``; the user is asked to retry shortly."""


class Scorer:
    def __init__(self, classifier: Classifier, max_pending: int = 64, workers: int = 1):
        self.classifier = classifier
        self.max_pending = max_pending
        self._pending = 0
        # one worker: TensorFlow already uses every core for one batch
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="classifier")

    @property
    def card(self):
        return self.classifier.card

    async def score(self, image: bytes) -> Prediction:
        if self._pending >= self.max_pending:
            raise Busy()
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self.classifier.predict, image)
        finally:
            self._pending -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=True)
