"""What Telegram does, as the fake Bot API (``bot/playground/fakeapi.py``) plays it: the bot it is, its
limits and flood control, its refusals, and the Bot API methods this bot calls."""

from __future__ import annotations

import asyncio
import collections
import math
import time
from dataclasses import dataclass, field

from aiohttp import web

BOT_USER = {
    "id": 777000111,
    "is_bot": True,
    "first_name": "Mirror Mirror",
    "username": "mirror_mirror_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}
STRING_FIELDS = {"text", "caption", "file_id", "secret_token", "url", "callback_query_id", "action", "parse_mode"}
MAX_FILE = 20 * 1024 * 1024
MAX_TEXT, MAX_CAPTION = 4096, 1024  # Telegram refuses longer texts and captions with a 400
# Telegram's flood control, on what arrives: over 30 messages in any second from one bot, or over 20
# a minute into one group, and the message is refused with 429 and a retry_after in whole seconds
FLOOD_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendAnimation", "sendVideo", "sendMediaGroup", "sendSticker"}
    | {"copyMessage", "forwardMessage"}
)
OVERALL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
# the update types Telegram leaves out when getUpdates names none (its allowed_updates default)
UNASKED_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class Sent:
    method: str
    params: dict
    message: dict | None = None
    at: float = field(default_factory=time.monotonic)


class FloodControl:
    """Telegram's flood rule over the messages that arrive (``FLOOD_METHODS``): 30 a second from the bot,
    20 a minute into one group."""

    def __init__(self):
        self._accepted: collections.deque[float] = collections.deque()  # arrival times, the last second
        self._group_accepted: dict[int, collections.deque[float]] = {}

    def wait(self, method: str, params: dict) -> int | None:
        """None when the message may go (and it is counted), else the whole seconds to wait."""
        if method not in FLOOD_METHODS:
            return None
        now = time.monotonic()
        windows = [(self._accepted, OVERALL_PER_SECOND, 1.0)]
        try:
            chat_id = int(params.get("chat_id"))
        except (TypeError, ValueError):
            chat_id = 0
        if chat_id < 0:
            windows.append((self._group_accepted.setdefault(chat_id, collections.deque()), GROUP_PER_MINUTE, 60.0))
        for times, limit, period in windows:
            while times and now - times[0] >= period:
                times.popleft()
            if len(times) >= limit:
                return max(1, math.ceil(period - (now - times[0])))
        for times, _, _ in windows:
            times.append(now)
        return None


class BotMethods:
    """The Bot API methods, one ``_m_<method>`` each, answering with their ``result`` or raising ``ApiError``.
    A mixin of ``FakeBotAPI``, whose state (updates, sent, files, webhook, ...) they read and change."""

    async def _m_getMe(self, p):
        return BOT_USER

    async def _m_getUpdates(self, p):
        offset, timeout = int(p.get("offset") or 0), float(p.get("timeout") or 0)
        limit = int(p.get("limit") or 100)
        self.update_limits.append(limit)
        if "allowed_updates" in p:  # kept until a call names others, as Telegram does; [] is the default
            self.allowed_updates = frozenset(p["allowed_updates"] or ())
        self.updates = [u for u in self.updates if u["update_id"] >= offset and self._asked(u)]
        async with self._new_update:
            if not self.updates and timeout:
                try:
                    await asyncio.wait_for(self._new_update.wait(), min(timeout, 2.0))
                except TimeoutError:
                    pass
        self.updates = [u for u in self.updates if self._asked(u)]  # the others Telegram never keeps
        return self.updates[:limit]

    def _asked(self, update: dict) -> bool:
        kinds = set(update) - {"update_id"}
        if self.allowed_updates:
            return bool(kinds & self.allowed_updates)
        return not kinds <= UNASKED_BY_DEFAULT

    async def _m_deleteWebhook(self, p):
        self.webhook = None
        return True

    async def _m_setWebhook(self, p):
        self.webhook = {"url": p["url"], "secret_token": p.get("secret_token")}
        return True

    async def _m_getWebhookInfo(self, p):
        return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}

    async def _record(self, method, p, **content):
        chat_id = p["chat_id"]
        message = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "from": BOT_USER,
            "chat": {"id": int(chat_id), "type": "private" if int(chat_id) > 0 else "group"},
            **content,
        }
        reply = p.get("reply_parameters") or (
            {"message_id": p["reply_to_message_id"]} if "reply_to_message_id" in p else None
        )
        if reply:
            message["reply_to_message_id"] = reply["message_id"]
        async with self._new_sent:
            self.sent.append(Sent(method, p, message))
            self._new_sent.notify_all()
        return message

    async def _m_sendMessage(self, p):
        if not str(p.get("text", "")).strip():
            raise ApiError("Bad Request: message text is empty")
        within(p.get("text"), MAX_TEXT, "Bad Request: message is too long")
        return await self._record("sendMessage", p, text=p["text"])

    async def _m_sendPhoto(self, p):
        within(p.get("caption"), MAX_CAPTION, "Bad Request: message caption is too long")
        photo = p.get("photo")
        content = photo if isinstance(photo, bytes) else self.files.get(str(photo), (b"", 0))[0]
        file_id = self.add_file(content)
        sizes = [{"file_id": file_id, "file_unique_id": file_id, "width": 1, "height": 1, "file_size": len(content)}]
        return await self._record("sendPhoto", p, photo=sizes, caption=p.get("caption", ""))

    async def _m_sendChatAction(self, p):
        async with self._new_sent:
            self.sent.append(Sent("sendChatAction", p))
        return True

    async def _m_getFile(self, p):
        file_id = str(p["file_id"])
        if file_id not in self.files:
            raise ApiError("Bad Request: invalid file_id")
        content, size = self.files[file_id]
        if size > MAX_FILE:
            raise ApiError("Bad Request: file is too big")
        return {"file_id": file_id, "file_unique_id": file_id, "file_size": size, "file_path": f"photos/{file_id}.jpg"}

    async def _m_answerCallbackQuery(self, p):
        return True

    async def _m_answerInlineQuery(self, p):
        async with self._new_sent:
            self.sent.append(Sent("answerInlineQuery", p))
            self._new_sent.notify_all()
        return True

    async def _m_setMyCommands(self, p):
        return True

    async def _m_editMessageText(self, p):
        within(p.get("text"), MAX_TEXT, "Bad Request: message is too long")
        return await self._record("editMessageText", p, text=p["text"])

    async def _m_deleteMessage(self, p):
        self.deleted.append((int(p["chat_id"]), int(p["message_id"])))
        return True


class ApiError(Exception):
    """A request Telegram refuses with a 400: its description."""


def within(value, limit: int, refusal: str) -> None:
    """Telegram's length limits, counted as Telegram does: in UTF-16 code units."""
    if value is not None and len(str(value).encode("utf-16-le")) // 2 > limit:
        raise ApiError(refusal)


def error_response(status: int, description: str, parameters: dict | None = None) -> web.Response:
    body = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
