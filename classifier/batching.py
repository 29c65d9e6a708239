"""Micro-batching for async servers: photos that arrive within a few milliseconds of each other
share one model call. Decoding runs on a small thread pool, the model on one thread of its own,
and the event loop only waits. Beyond ``max_pending`` waiting photos, ``Overloaded`` is raised
at once so the caller can say "busy" instead of letting memory grow."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .model import Classifier, Prediction


def _yield_to_the_loop() -> None:
    """Lower this worker thread's CPU priority (Linux threads have their own nice value, and the
    runtime's own threads inherit it), so the event-loop thread gets a core the moment it has
    work: on two cores, answering and reading updates must not wait behind face finding."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class Overloaded(Exception):
    """Too many photos are waiting; try again in a moment."""


class Admission:
    """Counts what is in progress and refuses beyond ``limit``: memory stays bounded under any burst."""

    def __init__(self, limit: int):
        self.limit, self.pending = limit, 0

    @contextlib.asynccontextmanager
    async def slot(self):
        """Holds one place for the duration of the ``async with``; raises ``Overloaded`` when full."""
        if self.pending >= self.limit:
            raise Overloaded()
        self.pending += 1
        try:
            yield
        finally:
            self.pending -= 1


class MicroBatcher:
    def __init__(
        self,
        classifier: Classifier,
        max_batch: int = 16,
        max_wait_s: float = 0.004,
        max_pending: int = 64,
        decode_workers: int = 2,
    ):
        self.classifier = classifier
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self.decode_workers = decode_workers
        self._decode = ThreadPoolExecutor(decode_workers, "decode", initializer=_yield_to_the_loop)
        # one model thread: the runtime uses every core itself
        self._model = ThreadPoolExecutor(1, "model", initializer=_yield_to_the_loop)
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self.admission = Admission(max_pending)
        self.batches: list[int] = []  # sizes of recent batches, for benchmarks and tests

    async def predict(self, image) -> Prediction:
        """Decode, queue, and await this photo's prediction. Raises ``UnreadableImage`` or ``Overloaded``."""
        async with self.slot():
            array = await self.off_loop(self.classifier.prepare, image)
            return self.classifier.explain((await self.outputs(array[None]))["pets"][0])

    def slot(self):
        """Counts one photo as pending for its whole journey; refuses beyond ``max_pending``."""
        return self.admission.slot()

    @property
    def pending(self) -> int:
        return self.admission.pending

    def on_each_decode_thread(self, fn) -> None:
        """Run ``fn`` once on every decode thread (blocking): per-thread first-call costs, paid
        before a server says it is ready."""
        barrier = threading.Barrier(self.decode_workers)

        def once():
            barrier.wait(30)  # hold each thread until all have one: no thread takes two
            fn()

        for future in [self._decode.submit(once) for _ in range(self.decode_workers)]:
            future.result()

    async def off_loop(self, fn, *args):
        """Run CPU-bound preparation (decoding, face finding) on the decode threads."""
        return await asyncio.get_running_loop().run_in_executor(self._decode, fn, *args)

    async def outputs(self, arrays: np.ndarray) -> dict[str, np.ndarray]:
        """Queue prepared model inputs (N, size, size, 3); they may share batches with others.
        Returns every head's probabilities (``Classifier.outputs``) for these N."""
        loop = asyncio.get_running_loop()
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run())
        futures = [loop.create_future() for _ in arrays]
        for array, future in zip(arrays, futures):
            self._queue.put_nowait((array, future))
        rows = await asyncio.gather(*futures)
        return {name: np.stack([row[name] for row in rows]) for name in rows[0]} if rows else {}

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self._queue.get()]
            deadline = time.monotonic() + self.max_wait_s
            while len(items) < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    items.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            batch = np.stack([array for array, _ in items])
            self.batches = (self.batches + [len(items)])[-1000:]
            try:
                outputs = await loop.run_in_executor(self._model, self.classifier.outputs, batch)
            except Exception as exc:  # every waiter hears about it, none hangs
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for i, (_, future) in enumerate(items):
                if not future.done():
                    future.set_result({name: value[i] for name, value in outputs.items()})

    async def aclose(self) -> None:
        if self._worker:
            self._worker.cancel()
        self._decode.shutdown(wait=True)
        self._model.shutdown(wait=True)
