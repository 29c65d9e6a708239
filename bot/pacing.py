"""Telegram's flood limits as Telegram applies them: ~30 messages a second overall, ~20 a minute in
a group, ~1 a second in any one chat; a 429's ``retry_after`` is honoured and the request retried.

Only messages count (python-telegram-bot's ``AIORateLimiter`` also counts chat actions, deletions
and file look-ups, which in a group would spend its 20 a minute on "typing..."). ``ChatPacer``
knows each chat's allowance, so a group's answers can wait for it together and leave merged
(``bot/outbox.py``) instead of one by one, minutes late.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from telegram.ext import AIORateLimiter

GROUP_PER_MINUTE = 20
PRIVATE_PER_SECOND = 1
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
    """Per-chat sliding windows: groups (negative ids) 20 messages a minute, other chats 1 a second."""

    def __init__(self, group_limit=GROUP_PER_MINUTE, group_period=60.0, chat_limit=PRIVATE_PER_SECOND, chat_period=1.0):
        self.group, self.chat = (group_limit, group_period), (chat_limit, chat_period)
        self._sent: dict[int, deque[float]] = {}

    def _window(self, chat_id: int) -> tuple[int, float]:
        return self.group if chat_id < 0 else self.chat

    def wait_for(self, chat_id: int) -> float:
        """Seconds until the chat may get another message (0: now)."""
        limit, period = self._window(chat_id)
        sent = self._sent.get(chat_id)
        if not sent:
            return 0.0
        now = time.monotonic()
        while sent and sent[0] <= now - period:
            sent.popleft()
        if not sent:
            del self._sent[chat_id]  # idle chats cost no memory
            return 0.0
        return 0.0 if len(sent) < limit else sent[0] + period - now

    async def acquire(self, chat_id: int) -> None:
        """Wait for the chat's allowance and spend one message of it."""
        while (wait := self.wait_for(chat_id)) > 0:
            await asyncio.sleep(wait)
        self._sent.setdefault(chat_id, deque()).append(time.monotonic())


class TelegramLimits(AIORateLimiter):
    """The overall 30/s (aiolimiter, through PTB's limiter) and 429 retries for every message; the
    per-chat windows of ``ChatPacer`` before it."""

    def __init__(self, pacer: ChatPacer, max_retries: int = 3):
        super().__init__(group_max_rate=0, max_retries=max_retries)  # groups: the pacer's job
        self.pacer = pacer

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        if endpoint not in MESSAGE_METHODS:  # not a message: no allowance spent, 429s still retried
            return await super().process_request(callback, args, kwargs, endpoint, {}, rate_limit_args)
        chat_id = data.get("chat_id")
        if isinstance(chat_id, int) or (isinstance(chat_id, str) and chat_id.lstrip("-").isdigit()):
            await self.pacer.acquire(int(chat_id))
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
