"""Broadcasts on Redis pub/sub: every replica's listeners hear every message, their own included."""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError

from ..bus import Bus
from .connection import RedisConnection

log = logging.getLogger(__name__)
EVENTS = "events"


class RedisBus(RedisConnection, Bus):
    def __init__(self) -> None:
        super().__init__()
        self._listener: asyncio.Task | None = None

    async def broadcast(self, message: str) -> None:
        await self.redis.publish(self.p + EVENTS, message)

    def on_broadcast(self, callback) -> None:
        super().on_broadcast(callback)
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.p + EVENTS)
                    async for item in pubsub.listen():
                        if item.get("type") == "message":
                            await self._deliver(item["data"])
            except (RedisError, OSError) as exc:  # Redis restarted: subscribe again
                log.warning("lost the event channel (%s); subscribing again", type(exc).__name__)
                await asyncio.sleep(1.0)
