"""The shared store for several replicas: Redis (redis-py's asyncio client).

- The queue: Redis Streams read through one consumer group, so any replica takes any update. A
  user's turn (their count of updates over the last 10 minutes) picks one of ``LEVELS`` streams,
  read in order: everyone's first photo before anyone's fourth. An update is acknowledged (XACK)
  when its answer is sent; a dead replica's updates are reclaimed with XAUTOCLAIM once idle for
  ``RECLAIM_S``, while a live replica keeps resetting the idle time of those it holds. Recording
  (dedupe + XADD) is one Lua script, so a Telegram retry or a second replica never queues twice;
  a ``done`` key lets a reclaimed update that was in fact answered go unanswered a second time.
- Albums: every photo goes into the album's hash; only the first enters a stream.
- Leaderboards: a sorted set per chat and label; names, settings and each user's history in
  hashes; rate limits and "why?" keys with expiry; model reloads announced on pub/sub.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from dataclasses import replace

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from .base import WHY_TTL_S, Forgotten, History, Queued, Store

log = logging.getLogger(__name__)
GROUP = "workers"
LEVELS = 4  # turns 1, 2, 3 and 4+ in the last FAIR_WINDOW_S
FAIR_WINDOW_S = 600
RECLAIM_S = 30.0  # an update held this long by a replica that stopped refreshing it is taken over
KEEP_S = 24 * 3600  # ids of recorded updates, to recognise a re-delivery
EVENTS = "events"

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


DONE = """
local p, id, keep, stream, entry, album, group = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7]
redis.call('SET', p .. 'done:' .. id, 1, 'EX', keep)
redis.call('DEL', p .. 'where:' .. id, p .. 'taken:' .. id, p .. 'notice:' .. id)
if stream ~= '' then
  redis.call('XACK', stream, group, entry)
  redis.call('XDEL', stream, entry)
  if album ~= '' then redis.call('DEL', p .. 'albumtaken:' .. album) end
end
return 1
"""
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

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""
REMEMBER = """
-- a short-lived value; KEYS[2] (optional): its owner's index, kept as long as its longest-lived key
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if #KEYS > 1 then
  redis.call('SADD', KEYS[2], KEYS[1])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
end
return 0
"""


class RedisStore(Store):
    windows_outlive_restarts = True

    def __init__(self, url: str, consumer: str = "bot", prefix: str = "mm:", reclaim_s: float = RECLAIM_S):
        self.consumer, self.p, self.reclaim_s = consumer, prefix, reclaim_s
        self.redis = aioredis.from_url(url, decode_responses=True)
        self._enqueue = self.redis.register_script(ENQUEUE)
        self._take_album = self.redis.register_script(TAKE_ALBUM)
        self._set_notice = self.redis.register_script(SET_NOTICE)
        self._window = self.redis.register_script(WINDOW)
        self._settle = self.redis.register_script(SETTLE)
        self._release = self.redis.register_script(RELEASE)
        self._remember = self.redis.register_script(REMEMBER)
        self._spent = itertools.count()
        self._groups_made = False
        self._redo: list[Queued] = []
        self._keeper: asyncio.Task | None = None
        self._listener: asyncio.Task | None = None

    def _q(self, level: int) -> str:
        return f"{self.p}q:{level}"

    async def _groups(self) -> None:
        if self._groups_made:
            return
        for level in range(LEVELS):
            with contextlib.suppress(ResponseError):  # BUSYGROUP: another replica made it
                await self.redis.xgroup_create(self._q(level), GROUP, id="0", mkstream=True)
        self._groups_made = True

    # -- the durable queue ----------------------------------------------------------------------------
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

    def _done_command(self, q: Queued) -> tuple:
        """The DONE script for one update: recorded, its keys and stream entry cleaned up."""
        level, entry = q.ref.split("/") if q.ref else ("", "")
        stream = self._q(int(level)) if level else ""
        album = q.ref if q.ref and q.album else ""
        return ("EVAL", DONE, 0, self.p, q.update_id, KEEP_S, stream, entry, album, GROUP)

    async def accepted(self, items):
        """Telegram took the answer: the entry is acknowledged and its keys cleaned up. A replica that
        dies before this leaves only ``done:``; whoever reclaims the entry finishes it (``_mark_taken``)."""
        if items:
            async with self.redis.pipeline(transaction=False) as pipe:
                for q in items:
                    pipe.execute_command(*self._done_command(q))
                await pipe.execute()

    async def undo_done(self, items):
        if items:
            await self.redis.delete(*(f"{self.p}done:{q.update_id}" for q in items))

    async def send_done(self, items):
        """``done:`` for each update, written to Redis's socket before this returns (no wait for the
        reply, during which the loop would run other tasks before the answer's last bytes go). The
        stream entry stays this replica's until Telegram accepts the answer (``accepted``)."""
        commands = [("SET", f"{self.p}done:{q.update_id}", 1, "EX", KEEP_S) for q in items]
        pool = self.redis.connection_pool
        conn = await pool.get_connection()
        try:
            await conn.send_packed_command(conn.pack_commands(commands), check_health=False)
        except BaseException:
            await conn.disconnect()
            await pool.release(conn)
            raise

        async def confirmed() -> None:
            try:
                for _ in commands:
                    reply = await conn.read_response()
                    if isinstance(reply, ResponseError):
                        raise reply
            except BaseException:
                await conn.disconnect()
                raise
            finally:
                await pool.release(conn)

        return confirmed

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

    # -- game ---------------------------------------------------------------------------------------
    async def record_score(self, chat_id, user_id, name, probabilities):
        async with self.redis.pipeline(transaction=True) as pipe:
            for label, p in probabilities.items():
                pipe.zadd(f"{self.p}top:{chat_id}:{label}", {user_id: round(float(p), 4)}, gt=True)
                pipe.sadd(f"{self.p}labels", label)
            pipe.hset(f"{self.p}names:{chat_id}", user_id, name)
            pipe.sadd(f"{self.p}chats:{user_id}", chat_id)
            await pipe.execute()

    async def top(self, chat_id, label, n=3):
        ranked = await self.redis.zrevrange(f"{self.p}top:{chat_id}:{label}", 0, n + 20, withscores=True)
        if not ranked:
            return []
        names = await self.redis.hmget(f"{self.p}names:{chat_id}", [user for user, _ in ranked])
        rows = sorted(((name or "?", best) for name, (_, best) in zip(names, ranked)), key=lambda r: (-r[1], r[0]))
        return rows[:n]

    # -- settings -------------------------------------------------------------------------------------
    async def cards(self, chat_id):
        value = await self.redis.hget(f"{self.p}settings", chat_id)
        return value != "0"

    async def set_cards(self, chat_id, on):
        await self.redis.hset(f"{self.p}settings", chat_id, int(on))

    # -- history --------------------------------------------------------------------------------------
    async def add_answer(self, user_id, probabilities):
        key = f"{self.p}history:{user_id}"
        async with self.redis.pipeline(transaction=True) as pipe:
            for label, p in probabilities.items():
                pipe.hincrbyfloat(key, label, round(float(p), 4))
            pipe.hincrby(key, "#count", 1)
            pipe.hgetall(key)
            replies = await pipe.execute()
        return _history(replies[-1])

    async def history(self, user_id):
        return _history(await self.redis.hgetall(f"{self.p}history:{user_id}"))

    async def forget(self, user_id):
        answers = int(await self.redis.hget(f"{self.p}history:{user_id}", "#count") or 0)
        chats = await self.redis.smembers(f"{self.p}chats:{user_id}")
        labels = await self.redis.smembers(f"{self.p}labels")
        async with self.redis.pipeline(transaction=True) as pipe:
            for chat_id in chats:
                for label in labels:
                    pipe.zrem(f"{self.p}top:{chat_id}:{label}", user_id)
                pipe.hdel(f"{self.p}names:{chat_id}", user_id)
            pipe.hdel(f"{self.p}settings", user_id)
            pipe.delete(*(f"{self.p}{k}:{user_id}" for k in ("history", "chats", "noted", "turn")))
            pipe.delete(f"{self.p}lastcard:{user_id}")
            replies = await pipe.execute()
        settings, card = replies[-3], replies[-1]
        return Forgotten(answers, len(chats), int(settings), int(card) + await self._forget_traces(user_id))

    async def _forget_traces(self, user_id: int) -> int:
        """The user's "why?" keys and share links (how many there were), and what answered updates of
        theirs left: stream entries not yet acknowledged, and their private albums' last-photo times."""
        refs = f"{self.p}refs:{user_id}"
        keys = await self.redis.smembers(refs)
        erased = int(await self.redis.delete(*keys)) if keys else 0
        await self.redis.delete(refs)
        for level in range(LEVELS):
            answered = []
            for entry, fields in await self.redis.xrange(self._q(level), count=10_000):
                if fields.get("user") == str(user_id) and await self.redis.exists(f"{self.p}done:{fields['id']}"):
                    answered.append(entry)
            if answered:
                await self.redis.xack(self._q(level), GROUP, *answered)
                await self.redis.xdel(self._q(level), *answered)
        async for key in self.redis.scan_iter(match=f"{self.p}album:{user_id}:*:last", count=1000):
            if not await self.redis.exists(key.removesuffix(":last")):  # its photos were taken: answered
                await self.redis.delete(key)
        return erased

    async def set_last_card(self, user_id, file_id, caption):
        await self.redis.hset(f"{self.p}lastcard:{user_id}", mapping={"file_id": file_id, "caption": caption})

    async def last_card(self, user_id):
        card = await self.redis.hgetall(f"{self.p}lastcard:{user_id}")
        return (card["file_id"], card["caption"]) if card else None

    # -- short-lived keys ---------------------------------------------------------------------------
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

    async def claim_note(self, user_id, update_id):
        return bool(await self.redis.set(f"{self.p}noted:{user_id}", update_id, nx=True, ex=FAIR_WINDOW_S))

    async def release_note(self, user_id, update_id):
        await self._release(keys=[f"{self.p}noted:{user_id}"], args=[update_id])

    async def remember(self, key, file_id, ttl_s=WHY_TTL_S, user_id=None):
        keys = [f"{self.p}why:{key}"] + ([] if user_id is None else [f"{self.p}refs:{user_id}"])
        await self._remember(keys=keys, args=[file_id, max(1, int(ttl_s * 1000))])

    async def recall(self, key):
        return await self.redis.get(f"{self.p}why:{key}")

    async def ping(self):
        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    async def memory_use(self):
        info = await self.redis.info("memory")
        limit = int(info.get("maxmemory", 0) or 0)
        return int(info.get("used_memory", 0)) / limit if limit else 0.0

    # -- one message to every replica -----------------------------------------------------------------
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

    async def close(self):
        for task in (self._keeper, self._listener):
            if task:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.redis.aclose()


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


def _history(fields: dict) -> History:
    count = int(fields.pop("#count", 0) or 0)
    if not count:
        return History(0, {})
    return History(count, {label: float(total) / count for label, total in fields.items()})
