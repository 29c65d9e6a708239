"""A per-user sliding-window limit: at most ``limit`` photos in ``window`` seconds."""

from __future__ import annotations

import time
from collections import defaultdict, deque


class RateLimiter:
    def __init__(self, limit: int, window: float, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._hits: dict[int, deque] = defaultdict(deque)

    def check(self, user_id: int) -> float:
        """Record a request; return 0 if allowed, else the seconds to wait."""
        now = self.clock()
        hits = self._hits[user_id]
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return self.window - (now - hits[0])
        hits.append(now)
        return 0.0
