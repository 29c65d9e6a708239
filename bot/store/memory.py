"""What a one-process store keeps in memory where Redis shares it between replicas: the "in line"
note slots and the flood windows (lost at a restart, as nothing else then holds them)."""

from __future__ import annotations

import itertools
import time
from collections import deque


class MemoryNotes:
    """``Queue.claim_note`` and ``release_note`` for one process."""

    def __init__(self) -> None:
        super().__init__()
        self._notes: dict[int, int] = {}  # user id -> the update their note is up for

    async def claim_note(self, user_id: int, update_id: int) -> bool:
        if user_id in self._notes:
            return False
        self._notes[user_id] = update_id
        return True

    async def release_note(self, user_id: int, update_id: int) -> None:
        if self._notes.get(user_id) == update_id:
            del self._notes[user_id]


class MemoryWindows:
    """``Limits.reserve``, ``claim`` and ``settle`` for one process."""

    def __init__(self) -> None:
        super().__init__()
        self._windows: dict[str, deque[float]] = {}  # key -> when each message was spent (time.monotonic())
        self._claims: dict[str, dict[str, float]] = {}  # key -> token -> when it counts from
        self._claimed = itertools.count()

    async def reserve(self, key: str, limit: int, period_s: float, spend: bool = True) -> float:
        now = time.monotonic()
        spent = self._windows.get(key)
        while spent and spent[0] <= now - period_s:
            spent.popleft()
        if spent and len(spent) >= limit:
            return spent[0] + period_s - now
        if spend:
            self._windows.setdefault(key, deque()).append(now)
        elif not spent:
            self._windows.pop(key, None)  # idle chats cost no memory
        return 0.0

    async def claim(self, key: str, limit: int, period_s: float, hold_s: float) -> tuple[float, str | None]:
        claims = self._claims.setdefault(key, {})
        now = time.monotonic()
        for token, at in list(claims.items()):
            if at <= now - period_s:
                del claims[token]
        if len(claims) >= limit:
            return min(claims.values()) + period_s - now, None
        token = str(next(self._claimed))
        claims[token] = now + hold_s
        return 0.0, token

    async def settle(self, key: str, token: str) -> None:
        claims = self._claims.get(key, {})
        if token in claims:
            claims[token] = time.monotonic()
