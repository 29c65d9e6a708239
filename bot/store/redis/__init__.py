"""The shared store for several replicas: Redis (redis-py's asyncio client). Each concern is a mixin
over one client and key prefix; every replica sees the same queue, records, windows and broadcasts."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..base import Store
from .bus import EVENTS, RedisBus
from .connection import FAIR_WINDOW_S, GROUP, KEEP_S, LEVELS, RECLAIM_S
from .game import RedisGame
from .limits import RedisLimits
from .queue import RedisQueue


class RedisStore(RedisQueue, RedisGame, RedisLimits, RedisBus, Store):
    def __init__(self, url: str, consumer: str = "bot", prefix: str = "mm:", reclaim_s: float = RECLAIM_S):
        self.consumer, self.p, self.reclaim_s = consumer, prefix, reclaim_s
        self.redis = aioredis.from_url(url, decode_responses=True)
        super().__init__()  # each concern registers its scripts on self.redis and sets up its own state

    async def ping(self):
        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    async def memory_use(self):
        info = await self.redis.info("memory")
        limit = int(info.get("maxmemory", 0) or 0)
        return int(info.get("used_memory", 0)) / limit if limit else 0.0

    async def close(self):
        for task in (self._keeper, self._listener):
            if task:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.redis.aclose()


__all__ = ["EVENTS", "FAIR_WINDOW_S", "GROUP", "KEEP_S", "LEVELS", "RECLAIM_S", "RedisStore"]
