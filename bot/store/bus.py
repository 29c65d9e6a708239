"""One message to every process serving the bot (a model reload). The listeners are this process's;
a backend shared by replicas carries ``broadcast`` to theirs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Bus:
    def __init__(self) -> None:
        super().__init__()
        self._listeners: list[Callable[[str], Awaitable[None]]] = []

    def on_broadcast(self, callback: Callable[[str], Awaitable[None]]) -> None:
        """Call ``callback(message)`` for every broadcast, from any replica (this one included)."""
        self._listeners.append(callback)

    async def broadcast(self, message: str) -> None:
        """Deliver to every replica's listeners; one process: straight to its own."""
        await self._deliver(message)

    async def _deliver(self, message: str) -> None:
        for callback in self._listeners:
            try:
                await callback(message)
            except Exception as exc:  # one listener's failure must not silence the others
                log.error("a broadcast listener failed: %s: %s", type(exc).__name__, exc)
