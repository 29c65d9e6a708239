"""What every concern of the Redis store shares: the client, the key prefix, the streams' names."""

from __future__ import annotations

import redis.asyncio as aioredis

GROUP = "workers"
LEVELS = 4  # turns 1, 2, 3 and 4+ in the last FAIR_WINDOW_S
FAIR_WINDOW_S = 600
RECLAIM_S = 30.0  # an update held this long by a replica that stopped refreshing it is taken over
KEEP_S = 24 * 3600  # ids of recorded updates, to recognise a re-delivery


class RedisConnection:
    """Set by ``RedisStore`` before each concern's ``__init__`` runs (they register their scripts on it)."""

    redis: aioredis.Redis
    p: str  # every key's prefix
    consumer: str  # this replica's name in the consumer group
    reclaim_s: float

    def _q(self, level: int) -> str:
        return f"{self.p}q:{level}"
