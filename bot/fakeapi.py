"""A local, protocol-level stand-in for the Telegram Bot API (aiohttp, 127.0.0.1).

It speaks the same HTTP as api.telegram.org for the methods this bot uses, so the real
python-telegram-bot ``Application`` runs against it unchanged through the two base-URL
settings. The end-to-end tests drive it; it applies Telegram's flood control (``FLOOD_METHODS``),
can inject failures (429s, 500s) and call a hook when a method's request arrives.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import ClientPayloadError, ClientSession, web

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


class FakeBotAPI:
    def __init__(self, token: str = "123456:TEST-token", flood_control: bool = True):
        self.token = token
        self.flood_control = flood_control
        self.floods = 0  # messages refused with 429 by the flood rule (fail_next's are not counted)
        self._accepted: collections.deque[float] = collections.deque()  # arrival times, the last second
        self._group_accepted: dict[int, collections.deque[float]] = {}
        self.updates: list[dict] = []
        self.sent: list[Sent] = []
        self.files: dict[str, tuple[bytes, int]] = {}  # file_id -> (content, claimed size)
        self.webhook: dict | None = None
        self.calls: dict[str, int] = {}
        self.first_call: dict[str, float] = {}  # method -> time.monotonic() of its first call
        self.update_limits: list[int] = []  # the ``limit`` of every getUpdates call
        self.allowed_updates: frozenset[str] = frozenset()  # the last getUpdates' allowed_updates; empty: default
        self.deleted: list[tuple[int, int]] = []  # (chat_id, message_id) the bot deleted
        self.targets: list[str] = []  # replicas behind a load balancer: webhooks go round-robin
        self._turn = itertools.count()
        self._failures: dict[str, list[tuple[int, dict]]] = {}
        self.injected = 0  # fail_next answers served
        self.dropped = 0  # requests whose sender died before the whole body arrived
        self.dropped_bodies: list[str] = []  # each one's method, and bytes that arrived of its Content-Length
        # method -> awaited once when its next call arrives, while its body is read (the load test
        # kills the bot there: mid-upload)
        self.hooks: dict[str, Callable[[], Awaitable[None]]] = {}
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._new_update = asyncio.Condition()
        self._new_sent = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0, add_routes=None) -> FakeBotAPI:
        """Serve on ``host:port`` (0: any free port); ``add_routes(app)`` may mount more pages."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        if add_routes:
            add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- what a test or the playground does ----------------------------------------------------
    def fail_next(self, method: str, status: int = 429, times: int = 1, retry_after: int = 1) -> None:
        params = {"retry_after": retry_after} if status == 429 else {}
        self._failures.setdefault(method, []).extend([(status, params)] * times)

    def add_file(self, content: bytes, claimed_size: int | None = None) -> str:
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = (content, claimed_size if claimed_size is not None else len(content))
        return file_id

    def photo_sizes(self, content: bytes, width: int = 800, height: int = 600) -> list[dict]:
        """Telegram offers several sizes of each photo; here each points at the same bytes
        except the thumbnail, which is deliberately unreadable so picking it shows up."""
        return self.photo_versions([(b"thumbnail-not-to-be-used", 90, 68), (content, width, height)])

    def photo_versions(self, versions: list[tuple[bytes, int, int]]) -> list[dict]:
        """PhotoSize entries for given (content, width, height) versions, smallest first, as
        Telegram sends one photo in several sizes (90, 320, 800, 1280 px on the long side)."""
        sizes = []
        for content, width, height in sorted(versions, key=lambda v: v[1] * v[2]):
            file_id = self.add_file(content)
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": file_id,
                    "width": width,
                    "height": height,
                    "file_size": len(content),
                }
            )
        return sizes

    def media(self, content: bytes, **fields) -> dict:
        """A video note, video, animation, sticker or document entry pointing at ``content``."""
        file_id = self.add_file(content)
        return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(content), **fields}

    def message(self, chat: dict, user: dict, **fields) -> dict:
        return {"message_id": next(self._ids), "date": int(time.time()), "chat": chat, "from": user, **fields}

    def balance(self, urls: list[str]) -> None:
        """Stand in for a load balancer in front of several replicas: each webhook delivery goes to
        the next URL, and to the one after it when a replica does not answer (as Telegram retries)."""
        self.targets = list(urls)

    async def push(self, message: dict | None = None, to: int | None = None, **update) -> int:
        """Queue an update (or deliver it to the webhook if one is set; ``to``: that replica)."""
        update_id = next(self._update_ids)
        update = {"update_id": update_id, **({"message": message} if message else {}), **update}
        if self.webhook:
            headers = {}
            if self.webhook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
            urls = [self.webhook["url"]]
            if self.targets:
                first = next(self._turn) if to is None else to
                urls = [self.targets[(first + k) % len(self.targets)] for k in range(len(self.targets))]
            await self._deliver(urls, update, headers)
        else:
            async with self._new_update:
                self.updates.append(update)
                self._new_update.notify_all()
        return update_id

    @staticmethod
    async def _deliver(urls: list[str], update: dict, headers: dict) -> None:
        failed = []
        async with ClientSession() as session:
            for url in urls:
                try:
                    async with session.post(url, json=update, headers=headers) as response:
                        if response.status == 200:
                            return
                        failed.append(f"{url}: {response.status}")
                except OSError as exc:  # a replica that is down: the balancer tries the next
                    failed.append(f"{url}: {type(exc).__name__}")
        raise RuntimeError("webhook not accepted: " + "; ".join(failed))

    async def wait_sent(self, predicate, count: int = 1, timeout: float = 30.0) -> list[Sent]:
        """Wait until ``count`` sent messages match ``predicate``; return them."""

        async def enough():
            matched, seen = [], 0
            async with self._new_sent:
                while True:  # ``sent`` only grows: look at each message once, not once per wake-up
                    new, seen = self.sent[seen:], len(self.sent)
                    matched += [s for s in new if predicate(s)]
                    if len(matched) >= count:
                        return matched
                    await self._new_sent.wait()

        return await asyncio.wait_for(enough(), timeout)

    def replies_to(self, chat_id: int) -> list[Sent]:
        """What the chat shows from the bot now: its messages there, less those it deleted."""
        return [
            s
            for s in self.sent
            if s.method in ("sendMessage", "sendPhoto")
            and int(s.params["chat_id"]) == chat_id
            and not self.was_deleted(s)
        ]

    def was_deleted(self, sent: Sent) -> bool:
        return bool(sent.message) and (int(sent.params["chat_id"]), sent.message["message_id"]) in self.deleted

    # -- the HTTP side ---------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict:
        if request.content_type == "application/json":
            return await request.json()
        form = await request.post()
        out = {}
        for key, value in form.items():
            if hasattr(value, "file"):
                out[key] = value.file.read()
            elif key in STRING_FIELDS:
                out[key] = value
            else:
                try:
                    out[key] = json.loads(value)
                except (json.JSONDecodeError, TypeError):
                    out[key] = value
        out.update({k: v for k, v in request.query.items() if k not in out})
        return out

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        self.calls[method] = self.calls.get(method, 0) + 1
        self.first_call.setdefault(method, time.monotonic())
        # the body is read as it arrives, as Telegram does, while a hook may kill the sender: a request
        # that arrived whole is carried out though its sender is gone (read after the hook, aiohttp
        # refused the whole body once the connection was lost); one cut short is dropped
        hook = self.hooks.pop(method, None)
        reading = asyncio.ensure_future(self._params(request))
        try:
            if hook is not None:
                await hook()
            params = await reading
        except (ConnectionResetError, ClientPayloadError):  # the sender died mid-upload: Telegram drops it
            self.dropped += 1
            self.dropped_bodies.append(f"{method} {request.content.total_bytes} of {request.content_length} bytes")
            return web.Response(status=400)
        finally:
            reading.cancel()
        failures = self._failures.get(method)
        if failures:
            self.injected += 1
            status, extra = failures.pop(0)
            return _error(status, "Too Many Requests: retry later" if status == 429 else "Internal Server Error", extra)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, f"Not Found: method {method} is not implemented by the fake server")
        if (wait := self._flood_wait(method, params)) is not None:
            self.floods += 1
            return _error(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        try:
            result = await handler(params)
        except _ApiError as exc:
            return _error(400, exc.args[0])
        return web.json_response({"ok": True, "result": result})

    def _flood_wait(self, method: str, params: dict) -> int | None:
        """None when the message may go (and it is counted), else the whole seconds to wait."""
        if not self.flood_control or method not in FLOOD_METHODS:
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

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        file_id = request.match_info["path"].rsplit("/", 1)[-1].split(".")[0]
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id][0], content_type="application/octet-stream")

    # -- Bot API methods ---------------------------------------------------------------------------
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
            raise _ApiError("Bad Request: message text is empty")
        _within(p.get("text"), MAX_TEXT, "Bad Request: message is too long")
        return await self._record("sendMessage", p, text=p["text"])

    async def _m_sendPhoto(self, p):
        _within(p.get("caption"), MAX_CAPTION, "Bad Request: message caption is too long")
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
            raise _ApiError("Bad Request: invalid file_id")
        content, size = self.files[file_id]
        if size > MAX_FILE:
            raise _ApiError("Bad Request: file is too big")
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
        _within(p.get("text"), MAX_TEXT, "Bad Request: message is too long")
        return await self._record("editMessageText", p, text=p["text"])

    async def _m_deleteMessage(self, p):
        self.deleted.append((int(p["chat_id"]), int(p["message_id"])))
        return True


class _ApiError(Exception):
    pass


def _within(value, limit: int, refusal: str) -> None:
    """Telegram's length limits, counted as Telegram does: in UTF-16 code units."""
    if value is not None and len(str(value).encode("utf-16-le")) // 2 > limit:
        raise _ApiError(refusal)


def _error(status: int, description: str, parameters: dict | None = None) -> web.Response:
    body = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
