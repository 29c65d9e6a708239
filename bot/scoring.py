"""The bot's view of the classifier: person, pet or neither, faces scored in shared
micro-batches, the event loop never blocked, and a busy limit.

``admit()`` is held from before a photo is downloaded until its answer is sent, so at most
``max_pending`` photos (and their result cards) are in memory; of those, ``DECODED_AT_ONCE`` at most are
being read (decoded, at or waiting for the model); the others are bytes or cards, and a photo's decoded
copy is dropped once its card is drawn (``handlers/photo.py``). The durable intake
(``bot/delivery/intake.py``) hands over no more updates than that at once, so a burst waits in the queue;
the gate stays as a guard, and would answer "busy" before any download."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar

from classifier import Classifier
from classifier.batching import Admission, MicroBatcher, Overloaded
from classifier.sandbox import read_in_child
from classifier.selfie import WORK_SIDE, SelfieResult, SelfieScorer, advance

Busy = Overloaded
# photos between decoding and their reading at once: enough to keep two decode threads and one model thread
# (LiteRT runs photos in pairs) busy; each one beyond would only hold its decoded copy and model inputs
# (~3.5 MiB) while it waits for the model (docs/benchmarks.md, the load test's memory)
DECODED_AT_ONCE = 6
# set for an update taken again after a process ended while holding it: its file may be what ended it,
# so it is read in a child process (classifier/sandbox.py) and can end only the child
CAREFUL: ContextVar[bool] = ContextVar("careful", default=False)
# such children at once (~40 MiB each, and a file's decode): after a kill, every update that was in hand is one
CHILDREN_AT_ONCE = 2


class Scorer:
    def __init__(self, classifier: Classifier, max_pending: int = 16):
        self._admission = Admission(max_pending)
        self._decoded = asyncio.Semaphore(DECODED_AT_ONCE)  # the rest of a photo's slot: download, answer
        self._children = asyncio.Semaphore(CHILDREN_AT_ONCE)
        self._explain_pool = ThreadPoolExecutor(1, thread_name_prefix="explain")
        self._retired: list[MicroBatcher] = []
        self.swap(classifier)

    def swap(self, classifier: Classifier) -> None:
        """Serve ``classifier`` from now on. A photo already on its way finishes with the model it
        started with (each request holds its own references), so nothing fails mid-switch."""
        old = getattr(self, "_batcher", None)
        detector = self.selfies.detector if old else None
        self.classifier = classifier
        self.selfies = SelfieScorer(classifier, detector)
        self._batcher = MicroBatcher(classifier)  # admission is counted here, in admit()
        self._explainer = None
        if old:
            self._retired.append(old)

    @property
    def card(self):
        return self.classifier.card

    def warm_up(self) -> None:
        """First-call costs (model interpreters, the face finder) paid before the bot is ready."""
        from PIL import Image

        self.classifier.warm_up()
        # YuNet's first run at each input size costs more (ONNX Runtime plans it), and each decode thread
        # its first photo: a blank photo goes through all three passes (480, 640, padded 320) on each
        self._batcher.on_each_decode_thread(lambda: self.selfies.detector.detect(Image.new("RGB", (640, 480))))

    def admit(self):
        """One photo's place from download to answer; raises ``Busy`` when all are taken."""
        return self._admission.slot()

    async def score(self, image: bytes) -> SelfieResult:
        """Person, pet or neither, and the answer (``SelfieScorer.steps``, its model runs shared with
        other photos' in micro-batches). Call inside ``admit()``."""
        if CAREFUL.get() and isinstance(image, (bytes, bytearray)):  # a clip's frames were read apart already
            image = await self._apart(image, "photo", WORK_SIDE)
        async with self._decoded:
            batcher, steps = self._batcher, self.selfies.steps(image)
            kind, value = await batcher.off_loop(advance, steps)  # CPU work on the decode threads
            while kind == "run":
                kind, value = await batcher.off_loop(advance, steps, await batcher.outputs(value))
            return value

    async def score_clip(self, data: bytes):
        """A video note, video or animation: ``FRAMES`` frames read off the loop, each scored like a
        photo (their model runs shared in the micro-batches), combined into one steadier answer."""
        from classifier.clips import combine, sample_frames

        if CAREFUL.get():
            frames = await self._apart(data, "clip")
        else:
            frames = await self._batcher.off_loop(sample_frames, data)
        results = await asyncio.gather(*(self.score(frame) for frame in frames))
        return combine(list(results), self.classifier)

    async def _apart(self, data: bytes, kind: str, side: int = WORK_SIDE):
        async with self._children:
            return await read_in_child(data, kind, side)

    async def render(self, fn, *args):
        """Drawing a card is CPU work too: keep it off the loop."""
        return await self._batcher.off_loop(fn, *args)

    async def why(self, image: bytes) -> bytes:
        """The heat-map picture for a photo, as JPEG bytes. Call inside ``admit()``."""
        import io

        from classifier.explain import Explainer

        classifier, selfies = self.classifier, self.selfies
        if CAREFUL.get():
            image = await self._apart(image, "photo", WORK_SIDE)

        def work():
            if self._explainer is None or self._explainer.classifier is not classifier:
                self._explainer = Explainer(classifier)
            result = selfies.score(image)
            out = io.BytesIO()
            picture = self._explainer.overlay(result.image, result)
            picture.thumbnail((1024, 1024))
            picture.save(out, "JPEG", quality=88)
            return out.getvalue()

        return await asyncio.get_running_loop().run_in_executor(self._explain_pool, work)

    async def aclose(self) -> None:
        for batcher in [*self._retired, self._batcher]:
            await batcher.aclose()
        self._explain_pool.shutdown(wait=True)
