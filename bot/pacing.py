"""Telegram's flood limits as Telegram applies them: ~30 messages a second overall, ~20 a minute in
a group, ~1 a second in any one chat; a 429's ``retry_after`` is honoured and the request retried.

The windows live in the store, so replicas sending as one bot share them (Redis), and only messages
count (python-telegram-bot's ``AIORateLimiter`` also counts chat actions, deletions and file
look-ups, which in a group would spend its 20 a minute on "typing..."). ``ChatPacer`` knows each
chat's allowance, so a group's answers can wait for it together and leave merged (``bot/outbox.py``).
"""

from __future__ import annotations

import asyncio

from telegram.ext import AIORateLimiter

from .store import Store

GROUP_PER_MINUTE = 20
PRIVATE_PER_SECOND = 1
OVERALL_PER_SECOND = 30
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendAnimation",
        "sendVideo",
        "sendMediaGroup",
        "sendSticker",
        "copyMessage",
        "forwardMessage",
    }
)


class ChatPacer:
    """Sliding windows: groups (negative ids) 20 messages a minute, other chats 1 a second, the
    bot as a whole 30 a second."""

    def __init__(
        self,
        store: Store,
        group_limit=GROUP_PER_MINUTE,
        group_period=60.0,
        chat_limit=PRIVATE_PER_SECOND,
        chat_period=1.0,
        overall=OVERALL_PER_SECOND,
    ):
        self.store, self.overall = store, overall
        self.group, self.chat = (group_limit, group_period), (chat_limit, chat_period)

    def _window(self, chat_id: int) -> tuple[int, float]:
        return self.group if chat_id < 0 else self.chat

    async def wait_for(self, chat_id: int) -> float:
        """Seconds until the chat may get another message (0: now)."""
        return await self.store.reserve(f"chat:{chat_id}", *self._window(chat_id), spend=False)

    async def acquire(self, chat_id: int | None) -> None:
        """Wait for the chat's allowance and the bot's, and spend one message of each."""
        if chat_id is not None:
            while (wait := await self.store.reserve(f"chat:{chat_id}", *self._window(chat_id))) > 0:
                await asyncio.sleep(wait)
        while (wait := await self.store.reserve("all", self.overall, 1.0)) > 0:
            await asyncio.sleep(wait)


class TelegramLimits(AIORateLimiter):
    """``ChatPacer``'s windows for every message; PTB's limiter only for its 429 retries."""

    def __init__(self, pacer: ChatPacer, max_retries: int = 3):
        super().__init__(overall_max_rate=0, group_max_rate=0, max_retries=max_retries)
        self.pacer = pacer

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        if endpoint not in MESSAGE_METHODS:  # not a message: no allowance spent, 429s still retried
            return await super().process_request(callback, args, kwargs, endpoint, {}, rate_limit_args)
        chat_id = data.get("chat_id")
        numeric = isinstance(chat_id, int) or (isinstance(chat_id, str) and chat_id.lstrip("-").isdigit())
        await self.pacer.acquire(int(chat_id) if numeric else None)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
