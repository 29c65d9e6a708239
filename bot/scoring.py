"""The bot's view of the classifier: faces found, crops scored in shared micro-batches, the
event loop never blocked, and a busy limit."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from classifier import Classifier
from classifier.batching import MicroBatcher, Overloaded
from classifier.selfie import SelfieResult, SelfieScorer

Busy = Overloaded


class Scorer:
    def __init__(self, classifier: Classifier, max_pending: int = 64, tta: bool = True):
        self.classifier = classifier
        self.selfies = SelfieScorer(classifier, tta=tta)
        self._batcher = MicroBatcher(classifier, max_pending=max_pending)
        self._explainer = None
        self._explain_pool = ThreadPoolExecutor(1, thread_name_prefix="explain")

    @property
    def card(self):
        return self.classifier.card

    async def score(self, image: bytes) -> SelfieResult:
        async with self._batcher.slot():
            photo, boxes, arrays = await self._batcher.off_loop(self.selfies.prepare, image)
            return self.selfies.finish(photo, boxes, await self._batcher.probabilities(arrays))

    async def render(self, fn, *args):
        """Drawing a card is CPU work too: keep it off the loop."""
        return await self._batcher.off_loop(fn, *args)

    async def why(self, image: bytes) -> bytes:
        """The heat-map picture for a photo, as JPEG bytes."""
        import io

        from classifier.explain import Explainer

        def work():
            if self._explainer is None:
                self._explainer = Explainer(self.classifier)
            result = self.selfies.score(image)
            out = io.BytesIO()
            picture = self._explainer.overlay(result.image, result)
            picture.thumbnail((1024, 1024))
            picture.save(out, "JPEG", quality=88)
            return out.getvalue()

        async with self._batcher.slot():
            return await asyncio.get_running_loop().run_in_executor(self._explain_pool, work)

    async def aclose(self) -> None:
        await self._batcher.aclose()
        self._explain_pool.shutdown(wait=True)
