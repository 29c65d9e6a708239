"""Leaderboards as a sorted set per chat and label; names, settings and each user's history in
hashes; "why?" keys and share links with expiry, indexed by owner so ``forget`` finds them."""

from __future__ import annotations

from ..game import Game
from ..records import WHY_TTL_S, Forgotten, History
from .connection import GROUP, LEVELS, RedisConnection

REMEMBER = """
-- a short-lived value; KEYS[2] (optional): its owner's index, kept as long as its longest-lived key
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if #KEYS > 1 then
  redis.call('SADD', KEYS[2], KEYS[1])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
end
return 0
"""


class RedisGame(RedisConnection, Game):
    def __init__(self) -> None:
        super().__init__()
        self._remember = self.redis.register_script(REMEMBER)

    # -- scores ---------------------------------------------------------------------------------------
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
    async def remember(self, key, file_id, ttl_s=WHY_TTL_S, user_id=None):
        keys = [f"{self.p}why:{key}"] + ([] if user_id is None else [f"{self.p}refs:{user_id}"])
        await self._remember(keys=keys, args=[file_id, max(1, int(ttl_s * 1000))])

    async def recall(self, key):
        return await self.redis.get(f"{self.p}why:{key}")


def _history(fields: dict) -> History:
    count = int(fields.pop("#count", 0) or 0)
    if not count:
        return History(0, {})
    return History(count, {label: float(total) / count for label, total in fields.items()})
