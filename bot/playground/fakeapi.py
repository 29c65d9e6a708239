"""A local, protocol-level stand-in for the Telegram Bot API (aiohttp, 127.0.0.1).

It speaks the same HTTP as api.telegram.org for the methods this bot uses, so the real
python-telegram-bot ``Application`` runs against it unchanged through the two base-URL
settings. The end-to-end tests drive it; it applies Telegram's limits and flood control, and answers
the methods as Telegram does (both in ``telegram.py``); it can inject failures (429s, 500s) and call a
hook when a method's request arrives.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable

from aiohttp import ClientPayloadError, ClientSession, web

from .telegram import (
    BOT_USER,
    STRING_FIELDS,
    ApiError,
    BotMethods,
    FloodControl,
    Sent,
    error_response,
)

__all__ = ["BOT_USER", "FakeBotAPI", "Sent"]


class FakeBotAPI(BotMethods):
    def __init__(self, token: str = "123456:TEST-token", flood_control: bool = True):
        self.token = token
        self.flood_control = flood_control
        self.floods = 0  # messages refused with 429 by the flood rule (fail_next's are not counted)
        self._flood = FloodControl()
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
        # a test stops it ~50 times a run: no waiting out keep-alive connections (1.5 s each)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
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

        try:
            return await asyncio.wait_for(enough(), timeout)
        except TimeoutError:  # say what did arrive, so a failing test reads as what is missing
            matched = sum(1 for s in self.sent if predicate(s))
            last = ", ".join(s.method for s in self.sent[-5:]) or "nothing"
            raise TimeoutError(
                f"{matched} of {count} expected messages in {timeout:.0f} s ({len(self.sent)} sent; last: {last})"
            ) from None

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
            return error_response(401, "Unauthorized")
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
            return error_response(
                status, "Too Many Requests: retry later" if status == 429 else "Internal Server Error", extra
            )
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return error_response(404, f"Not Found: method {method} is not implemented by the fake server")
        if self.flood_control and (wait := self._flood.wait(method, params)) is not None:
            self.floods += 1
            return error_response(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        try:
            result = await handler(params)
        except ApiError as exc:
            return error_response(400, exc.args[0])
        return web.json_response({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        file_id = request.match_info["path"].rsplit("/", 1)[-1].split(".")[0]
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id][0], content_type="application/octet-stream")
