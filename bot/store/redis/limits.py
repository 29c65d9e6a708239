"""Rate limits and Telegram's flood windows as sorted sets, each check one Lua script on Redis's clock,
so every replica spends from the same windows and they outlive restarts."""

from __future__ import annotations

import itertools

from ..limits import Limits
from .connection import RedisConnection

WINDOW = """
-- a sliding window: rate limits and Telegram's flood windows; a member already in it counts once.
-- hold (seconds, optional): a message in flight counts from now + hold until SETTLE stamps it now
local key, limit, period, spend, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local hold = tonumber(ARGV[5] or '0')
local t = redis.call('TIME')  -- one clock for every replica
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
if redis.call('ZSCORE', key, member) then return '0' end
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + period - now)
end
if spend == '1' then
  redis.call('ZADD', key, now + hold, member)
  redis.call('PEXPIRE', key, math.ceil((period + hold) * 1000))
end
return '0'
"""
SETTLE = """
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) + tonumber(t[2]) / 1e6, ARGV[1])
return 0
"""


class RedisLimits(RedisConnection, Limits):
    windows_outlive_restarts = True

    def __init__(self) -> None:
        super().__init__()
        self._window = self.redis.register_script(WINDOW)
        self._settle = self.redis.register_script(SETTLE)
        self._spent = itertools.count()  # with the consumer's name: a member no other replica uses

    async def hit(self, user_id, limit, window_s, token, kind=""):
        return await self._spend(f"hits:{kind + ':' if kind else ''}{user_id}", limit, window_s, True, token)

    async def reserve(self, key, limit, period_s, spend=True):
        return await self._spend(f"sent:{key}", limit, period_s, spend, f"{self.consumer}:{next(self._spent)}")

    async def claim(self, key, limit, period_s, hold_s):
        member = f"{self.consumer}:{next(self._spent)}"
        wait = float(await self._window(keys=[f"{self.p}claims:{key}"], args=[limit, period_s, "1", member, hold_s]))
        return (0.0, member) if wait <= 0 else (wait, None)

    async def settle(self, key, token):
        await self._settle(keys=[f"{self.p}claims:{key}"], args=[token])

    async def _spend(self, key: str, limit: int, period_s: float, spend: bool, member: str) -> float:
        wait = await self._window(keys=[self.p + key], args=[limit, period_s, "1" if spend else "0", member])
        return max(0.0, float(wait))
