"""How long the event loop was unable to run: one slow callback delays every chat at once.

A task sleeps ``interval`` seconds over and over; whenever it wakes late, the loop was busy for
that long. The cost is a hundred tiny wake-ups a second. The bot logs the longest stall when it
stops, and a warning for any stall over ``warn_s`` while it runs.
"""

from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger(__name__)


class LoopWatch:
    def __init__(self, interval: float = 0.01, warn_s: float = 0.5, metrics=None):
        self.interval, self.warn_s, self.metrics = interval, warn_s, metrics
        self.longest_s = 0.0
        self.over_100ms = 0
        self._task: asyncio.Task | None = None

    def start(self) -> LoopWatch:
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="loopwatch")
        return self

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            late = time.perf_counter() - before - self.interval
            if late > self.longest_s:
                self.longest_s = late
                if self.metrics:
                    self.metrics.longest_stall.set(late)
            if late > 0.1:
                self.over_100ms += 1
                if self.metrics:
                    self.metrics.stalls.inc()
            if late > self.warn_s:
                log.warning("event loop stalled for %.0f ms", late * 1000)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def summary(self) -> str:
        return f"longest event-loop stall {self.longest_s * 1000:.0f} ms, stalls over 100 ms: {self.over_100ms}"
