"""The queue on Redis Streams, read through one consumer group so any replica takes any update.

A user's turn (their count of updates over the last 10 minutes) picks one of ``LEVELS`` streams,
read in order: everyone's first photo before anyone's fourth. An update is acknowledged (XACK)
when its answer is sent; a dead replica's updates are reclaimed with XAUTOCLAIM once idle for
``RECLAIM_S``, while a live replica keeps resetting the idle time of those it holds. Recording
(dedupe + XADD) is one Lua script, so a Telegram retry or a second replica never queues twice;
a ``done`` key (``answers.py``) lets a reclaimed update that was in fact answered go unanswered a second time.
Albums: every photo goes into the album's hash; only the first enters a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import replace

from redis.exceptions import RedisError, ResponseError

from ..records import Queued
from .answers import RedisAnswers
from .connection import FAIR_WINDOW_S, GROUP, KEEP_S, LEVELS

log = logging.getLogger(__name__)

ENQUEUE = """
local p, now, window, levels, keep = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local new = 0
for i = 6, #ARGV, 5 do
  local id, user, payload, album, digest = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local seen = p .. 'seen:' .. id
  local fresh = redis.call('SET', seen, digest, 'NX', 'EX', keep)
  -- the same id with another payload, answered: another bot's update (ids begin anew with a new token)
  if not fresh and redis.call('GET', seen) ~= digest and redis.call('EXISTS', p .. 'done:' .. id) == 1 then
    redis.call('DEL', p .. 'done:' .. id, p .. 'taken:' .. id, p .. 'where:' .. id, p .. 'notice:' .. id)
    redis.call('SET', seen, digest, 'EX', keep)
    fresh = true
  end
  if fresh then
    new = new + 1
    local queue = true
    if album ~= '' then
      local key = p .. 'album:' .. album
      redis.call('HSET', key, id, cjson.encode({tonumber(id), user, payload, tonumber(now)}))
      redis.call('EXPIRE', key, keep)
      redis.call('SET', key .. ':last', now, 'EX', keep)
      queue = redis.call('SET', key .. ':queued', 1, 'NX', 'EX', keep)
    end
    if queue then
      local turn = 0
      if user ~= '' then
        turn = redis.call('INCR', p .. 'turn:' .. user) - 1
        redis.call('EXPIRE', p .. 'turn:' .. user, window)
      end
      local level = math.min(turn, levels - 1)
      local entry = redis.call('XADD', p .. 'q:' .. level, '*', 'id', id, 'user', user, 'payload', payload,
                               'received', now, 'album', album)
      redis.call('SET', p .. 'where:' .. id, level .. ' ' .. entry, 'EX', keep)
      redis.call('INCR', p .. 'waiting:' .. level)
    end
  end
end
return new
"""
TAKE_ALBUM = """
local p, album, ref, keep = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local taken = p .. 'albumtaken:' .. ref
local saved = redis.call('GET', taken)
if saved then return saved end
local key = p .. 'album:' .. album
local items = cjson.encode(redis.call('HVALS', key))
redis.call('SET', taken, items, 'EX', keep)
redis.call('DEL', key, key .. ':queued')
return items
"""
SET_NOTICE = """
local p, id, message, keep = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('EXISTS', p .. 'taken:' .. id, p .. 'done:' .. id) > 0 then return 0 end
redis.call('SET', p .. 'notice:' .. id, message, 'EX', keep)
return 1
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisQueue(RedisAnswers):
    def __init__(self) -> None:
        super().__init__()
        self._enqueue = self.redis.register_script(ENQUEUE)
        self._take_album = self.redis.register_script(TAKE_ALBUM)
        self._set_notice = self.redis.register_script(SET_NOTICE)
        self._release = self.redis.register_script(RELEASE)
        self._groups_made = False
        self._redo: list[Queued] = []  # this replica's own updates from its last run (``recover``)
        self._keeper: asyncio.Task | None = None

    async def _groups(self) -> None:
        if self._groups_made:
            return
        for level in range(LEVELS):
            with contextlib.suppress(ResponseError):  # BUSYGROUP: another replica made it
                await self.redis.xgroup_create(self._q(level), GROUP, id="0", mkstream=True)
        self._groups_made = True

    async def enqueue(self, updates):
        await self._groups()
        args = [self.p, repr(time.time()), FAIR_WINDOW_S, LEVELS, KEEP_S]
        for u in updates:
            args += [u.update_id, "" if u.user_id is None else u.user_id, u.payload, u.album or "", u.digest]
        return int(await self._enqueue(args=args))

    async def take(self, n):
        await self._groups()
        self._keep_claims()
        out = [self._redo.pop(0) for _ in range(min(n, len(self._redo)))]
        for level in range(LEVELS):  # first what replicas that died were holding
            if len(out) >= n:
                break
            _, claimed, _ = await self.redis.xautoclaim(
                self._q(level), GROUP, self.consumer, int(self.reclaim_s * 1000), "0-0", count=n - len(out)
            )
            out += [_queued(level, entry, fields) for entry, fields in claimed if fields]
        for level in range(LEVELS):  # then new updates, the lowest turn first
            if len(out) >= n:
                break
            read = await self.redis.xreadgroup(GROUP, self.consumer, {self._q(level): ">"}, count=n - len(out))
            entries = read[0][1] if read else []
            if entries:
                await self.redis.decrby(f"{self.p}waiting:{level}", len(entries))
                out += [_queued(level, entry, fields) for entry, fields in entries]
        return await self._mark_taken(out)

    async def _mark_taken(self, items: list[Queued]) -> list[Queued]:
        if not items:
            return []
        async with self.redis.pipeline(transaction=True) as pipe:
            for q in items:
                pipe.exists(f"{self.p}done:{q.update_id}")
                pipe.incr(f"{self.p}taken:{q.update_id}")  # over 1: a process took it before and ended
                pipe.expire(f"{self.p}taken:{q.update_id}", KEEP_S)
                pipe.get(f"{self.p}notice:{q.update_id}")
            replies = await pipe.execute()
        out, answered = [], []
        for i, q in enumerate(items):
            done, taken, _, notice = replies[4 * i : 4 * i + 4]
            if done:  # answered by a replica that died before acknowledging it
                answered.append(q)
            else:
                out.append(replace(q, notice=None if notice is None else int(notice), tries=int(taken) - 1))
        await self.accepted(answered)
        return out

    def _keep_claims(self) -> None:
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.get_running_loop().create_task(self._refresh_claims())

    async def _refresh_claims(self) -> None:
        """While this replica lives, the updates it holds never look idle to the others."""
        while True:
            await asyncio.sleep(self.reclaim_s / 3)
            try:
                for level in range(LEVELS):
                    held = await self.redis.xpending_range(
                        self._q(level), GROUP, min="-", max="+", count=1000, consumername=self.consumer
                    )
                    if held:
                        ids = [h["message_id"] for h in held]
                        await self.redis.xclaim(self._q(level), GROUP, self.consumer, 0, ids, justid=True)
            except RedisError as exc:
                log.warning("could not refresh held updates: %s", type(exc).__name__)

    async def album_last(self, album):
        return float(await self.redis.get(f"{self.p}album:{album}:last") or 0.0)

    async def take_album(self, queued):
        raw = await self._take_album(args=[self.p, queued.album, queued.ref, KEEP_S])
        items = json.loads(raw) if raw not in ("{}", "[]") else []
        out = []
        for item in items:
            update_id, user, payload, received = json.loads(item)
            if update_id == queued.update_id:
                out.append(queued)  # the one in the stream: its ref acknowledges it
            else:
                out.append(Queued(update_id, payload, received, None, int(user) if user else None, queued.album))
        return sorted(out, key=lambda q: q.update_id) or [queued]

    async def position(self, update_id):
        where = await self.redis.get(f"{self.p}where:{update_id}")
        if where is None or await self.redis.exists(f"{self.p}taken:{update_id}"):
            return 0
        level, entry = where.split()
        level = int(level)
        waiting = await self.redis.mget([f"{self.p}waiting:{lv}" for lv in range(level)]) if level else []
        ahead = sum(int(v or 0) for v in waiting)
        groups = await self.redis.xinfo_groups(self._q(level))
        last = next((g["last-delivered-id"] for g in groups if g["name"] == GROUP), "0-0")
        before = await self.redis.xrange(self._q(level), min=f"({last}", max=entry)
        return ahead + len(before) if before else 0

    async def set_notice(self, update_id, message_id):
        return bool(await self._set_notice(args=[self.p, update_id, message_id, KEEP_S]))

    async def recover(self):
        """This replica's own updates from its last run (same REPLICA_NAME) are taken again first;
        other replicas' are reclaimed by XAUTOCLAIM once idle."""
        await self._groups()
        self._redo = []
        for level in range(LEVELS):
            read = await self.redis.xreadgroup(GROUP, self.consumer, {self._q(level): "0"}, count=10_000)
            entries = read[0][1] if read else []
            self._redo += [_queued(level, entry, fields) for entry, fields in entries if fields]
        return len(self._redo)

    async def queued(self):
        values = await self.redis.mget([f"{self.p}waiting:{level}" for level in range(LEVELS)])
        return sum(int(v or 0) for v in values)

    async def claim_note(self, user_id, update_id):
        return bool(await self.redis.set(f"{self.p}noted:{user_id}", update_id, nx=True, ex=FAIR_WINDOW_S))

    async def release_note(self, user_id, update_id):
        await self._release(keys=[f"{self.p}noted:{user_id}"], args=[update_id])


def _queued(level: int, entry: str, fields: dict) -> Queued:
    user = fields.get("user") or None
    return Queued(
        int(fields["id"]),
        fields["payload"],
        float(fields["received"]),
        None,
        int(user) if user else None,
        fields.get("album") or None,
        f"{level}/{entry}",
    )
