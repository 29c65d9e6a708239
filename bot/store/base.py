"""The one interface every backend implements, one part per concern; handlers never know which runs.

All methods are coroutines: the embedded SQLite backend answers in well under a millisecond on
the loop, the Redis backend over the network. Every backend keeps numbers and Telegram's JSON
(file ids), never photo bytes.
"""

from __future__ import annotations

from abc import abstractmethod

from .bus import Bus
from .game import Game
from .limits import Limits
from .queue import Queue
from .records import SHARE_TTL_S, WHY_TTL_S, Forgotten, History, Incoming, Queued


class Store(Queue, Game, Limits, Bus):
    """The queue of updates, the game's records, rate limits and the replicas' bus, plus the store itself."""

    @abstractmethod
    async def ping(self) -> bool:
        """The store answers (for /readyz)."""

    async def memory_use(self) -> float:
        """How full the store is (Redis: used memory over ``maxmemory``); 0 when it has no limit."""
        return 0.0

    async def close(self) -> None:  # noqa: B027 - optional for backends without resources
        pass


__all__ = ["SHARE_TTL_S", "WHY_TTL_S", "Forgotten", "History", "Incoming", "Queued", "Store"]
