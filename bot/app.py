"""Wiring: configuration + classifier -> a python-telegram-bot Application, run by polling or
webhook, stopped gracefully (in-flight photos are answered before exit)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import signal
import time
from urllib.parse import quote

from aiohttp import web
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from classifier import Classifier

from . import handlers
from .answered import AnsweringRequest
from .config import ALLOWED_UPDATES, Config
from .intake import UPDATES_PER_POLL, Intake  # noqa: F401 - UPDATES_PER_POLL: the tests read it here
from .loopwatch import LoopWatch
from .metrics import Metrics
from .outbox import Outbox
from .pacing import ChatPacer, TelegramLimits
from .scoring import Scorer
from .store import Store, open_store
from .texts import text

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram"
RELOAD = "reload:"  # + the replica that announced it


class BotState:
    """Everything the handlers share, kept in ``application.bot_data['state']``."""

    def __init__(self, config: Config, classifier: Classifier, store: Store, pacer: ChatPacer, metrics: Metrics):
        self.config = config
        self.outbox = Outbox(pacer, lambda language: text(language, "merged"))  # group answers over the limit
        self.scorer = Scorer(classifier, config.max_pending)
        self.store = store  # bot/store: where all state lives
        self.metrics = metrics
        self.metrics.serving(classifier.card.version)
        self._reload_lock = asyncio.Lock()
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def in_flight(self):
        self._busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()

    async def remember(self, value: str, user_id: int | None = None) -> str:
        """A short key for a "why?" button (callback data is capped at 64 bytes, file ids are not);
        with ``user_id`` the key is theirs, and /forgetme erases it."""
        key = secrets.token_urlsafe(9)
        await self.store.remember(key, value, user_id=user_id)
        return key

    async def allowance(self, update: Update, token: str | None = None) -> float:
        """Count one photo (``token``, by default the update's id) against its sender's rate limit and,
        in a group, the group's: 0 if allowed, else seconds to wait. A sender over their own limit
        spends nothing of the group's."""
        config, token = self.config, token or str(update.update_id)
        wait = await self.store.hit(update.effective_user.id, config.rate_limit, config.rate_window_s, token)
        chat = update.effective_chat
        if wait or chat is None or chat.id >= 0:
            return wait
        return await self.store.hit(chat.id, config.group_rate_limit, config.rate_window_s, token, kind="chat")

    async def reload_everywhere(self) -> tuple[bool, str]:
        """Reload here, then tell every other replica to do the same (each runs its own canary)."""
        outcome = await self.reload()
        await self.store.broadcast(RELOAD + self.config.replica)
        return outcome

    async def on_broadcast(self, message: str) -> None:
        if message.startswith(RELOAD) and message != RELOAD + self.config.replica:
            log.info("reload announced by replica %s", message[len(RELOAD) :])
            await self.reload()

    async def reload(self) -> tuple[bool, str]:
        """Load the configured model again (MODEL_DIR, or whatever models/DEFAULT names now),
        run the canary, and switch only if it passes. Returns (switched, what happened)."""
        from classifier.probes import canary

        old = self.scorer.card.version
        async with self._reload_lock:

            def load():
                candidate = Classifier.load(self.config.model_path()).warm_up()
                return candidate, canary(candidate)

            try:
                candidate, (passed, why) = await asyncio.get_running_loop().run_in_executor(None, load)
            except Exception as exc:  # a broken artifact must never take the bot down
                passed, why, candidate = False, f"{type(exc).__name__}: {exc}", None
            if not passed:
                log.warning("reload refused, still serving %s: %s", old, why)
                return False, f"kept {old}: {why}"
            self.scorer.swap(candidate)
            self.metrics.serving(candidate.card.version)
            log.info("now serving %s (was %s): %s", candidate.card.version, old, why)
            return True, f"now serving {candidate.card.version} (was {old}): {why}"

    async def drain(self, timeout: float = 30.0) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Formatter):
    """No log line may carry the token or the webhook secret, whatever library wrote it: what the
    handler's own formatter writes (message, traceback, stack) is redacted as a whole, the token also
    URL-encoded (a request URL in an error)."""

    def __init__(self, token: str, webhook_secret: str | None = None, inner: logging.Formatter | None = None):
        super().__init__(LOG_FORMAT)
        self.inner = inner
        forms = {token: "<token>", quote(token, safe=""): "<token>", quote(token, safe="").lower(): "<token>"}
        if ":" in token:  # the part after the bot's id is the secret one, wherever it turns up alone
            forms[token.split(":", 1)[1]] = "<token>"
        if webhook_secret:
            forms[webhook_secret] = "<webhook-secret>"
        # longest first, so the whole token goes before its secret part
        self.forms = sorted(((k, v) for k, v in forms.items() if len(k) >= 8), key=lambda kv: -len(kv[0]))

    def redact(self, text: str) -> str:
        for secret, mark in self.forms:
            text = text.replace(secret, mark)
        return text

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record) if self.inner else super().format(record)
        if record.exc_text:  # cached on the record for any other handler
            record.exc_text = self.redact(record.exc_text)
        return self.redact(text)

    def formatException(self, ei) -> str:
        return self.redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return self.redact(super().formatStack(stack_info))


def configure_logging(config: Config, level=logging.INFO) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry URLs with the token
    for handler in logging.getLogger().handlers:
        inner = handler.formatter
        if isinstance(inner, RedactSecrets):
            inner = inner.inner
        handler.setFormatter(RedactSecrets(config.token, config.webhook_secret, inner))


def build_application(config: Config, classifier: Classifier) -> Application:
    store = open_store(config.state_dir, config.redis_url, config.replica, config.reclaim_s)
    # Telegram's limits, kept in the store (shared by replicas), used by the rate limiter and the outbox
    pacer = ChatPacer(store, group_limit=config.group_messages, group_period=config.group_period_s)
    metrics = Metrics()
    application = _builder(config, pacer, metrics).build()
    application.bot_data["state"] = BotState(config, classifier, store, pacer, metrics)
    add_handlers(application)
    return application


def _builder(config: Config, pacer: ChatPacer, metrics: Metrics):
    # a pool of 16 connections: httpx scans the whole pool on every request, so 64 cost a tenth
    # of the loop's time under load; requests queue for a free one (pool_timeout) instead of failing
    bot = ExtBot(
        token=config.token,
        base_url=config.api_base_url,
        base_file_url=config.file_base_url,
        request=AnsweringRequest(connection_pool_size=16, pool_timeout=30.0),
        rate_limiter=TelegramLimits(pacer, metrics),  # Telegram's limits; honours 429 retry_after
    )
    # updates come through the durable intake (bot/intake.py), not PTB's own updater
    return ApplicationBuilder().bot(bot).concurrent_updates(256).updater(None)


def add_handlers(application: Application) -> None:
    private, groups = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
    clip = filters.VIDEO_NOTE | filters.VIDEO | filters.ANIMATION | filters.Document.VIDEO
    image = filters.PHOTO | filters.Document.IMAGE | filters.Sticker.STATIC | clip
    application.add_handlers(
        [
            CommandHandler("start", handlers.start),
            CommandHandler("help", handlers.help_command),
            CommandHandler("about", handlers.about),
            CommandHandler("privacy", handlers.privacy),
            CommandHandler("top", handlers.top),
            CommandHandler("me", handlers.me),
            CommandHandler("forgetme", handlers.forget_me),
            CommandHandler("mirror", handlers.mirror_command),
            CommandHandler("cards", handlers.cards_command),
            CommandHandler("reload", handlers.reload_command),
            CallbackQueryHandler(handlers.why_button, pattern=r"^why:"),
            InlineQueryHandler(handlers.inline_query),
            MessageHandler(private & (filters.Sticker.ANIMATED | filters.Sticker.VIDEO), handlers.animated_sticker),
            MessageHandler(private & image, handlers.private_image),
            MessageHandler(groups & image & filters.CaptionRegex(handlers.MIRROR_CAPTION), handlers.group_caption),
            MessageHandler(groups & (filters.Entity("mention") | filters.CaptionEntity("mention")), handlers.mention),
            MessageHandler(private & filters.TEXT & ~filters.COMMAND, handlers.text_hint),
            MessageHandler(private & ~filters.COMMAND & ~filters.TEXT, handlers.not_an_image),
        ]
    )
    application.add_error_handler(handlers.on_error)


async def run(
    config: Config, classifier: Classifier, stop: asyncio.Event | None = None, ready: asyncio.Event | None = None
) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop``), then answer in-flight photos and exit."""
    application = build_application(config, classifier)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    state: BotState = application.bot_data["state"]
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(state.reload_everywhere()))
    runner = None
    t = time.perf_counter()
    state.scorer.warm_up()  # before serving, so no first photo pays for it (and no loop stall either)
    log.info("model %s warmed up in %.1f s", state.scorer.card.version, time.perf_counter() - t)
    intake = Intake(
        application,
        state.store,
        config.max_pending,
        config.max_wait_s,
        metrics=state.metrics,
        after_crash=state.outbox.pacer.after_crash,
    )
    state.store.on_broadcast(state.on_broadcast)
    async with application:
        await application.start()
        workers = asyncio.create_task(intake.work())
        ops = await start_ops_server(state, config) if config.health_port else None
        if config.webhook_url:
            runner = await start_webhook_server(application, config, intake)
            await application.bot.set_webhook(
                config.webhook_url.rstrip("/") + WEBHOOK_PATH,
                secret_token=config.webhook_secret,
                allowed_updates=list(ALLOWED_UPDATES),
            )
            polling = None
        else:
            polling = asyncio.create_task(intake.poll())
        watch = LoopWatch(metrics=state.metrics).start()
        log.info("ready: model %s, %s", state.scorer.card.version, "webhook" if config.webhook_url else "polling")
        if ready:
            ready.set()
        await stop.wait()
        log.info("stopping: finishing photos in hand, the rest stays queued")
        if polling:
            polling.cancel()  # nothing half-recorded: recording is one transaction between awaits
            await asyncio.gather(polling, return_exceptions=True)
        if runner:
            await runner.cleanup()
        await intake.stop()
        await state.outbox.close(timeout=10.0)  # what a group's allowance lets out soon; the rest stays queued
        await asyncio.gather(workers, return_exceptions=True)
        await state.drain()
        await application.stop()
        await watch.stop()
        if ops:
            await ops.cleanup()  # alive until the queue is left as it should be
    await state.scorer.aclose()
    await state.store.close()
    log.info("stopped: %s; peak memory %.0f MiB", watch.summary(), peak_rss_mib())


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def start_webhook_server(application: Application, config: Config, intake: Intake) -> web.AppRunner:
    secret = (config.webhook_secret or "").encode()

    async def telegram_update(request: web.Request) -> web.Response:
        # as bytes: any header compares (aiohttp keeps undecodable bytes as surrogates); none set refuses all
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode("utf-8", "surrogateescape")
        if not secret or not hmac.compare_digest(given, secret):
            return web.Response(status=403)
        try:
            raw = await request.json()
        except ValueError:  # not JSON, or not UTF-8
            return web.Response(status=400)
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        if type(update_id) is not int or not 0 <= update_id < 2**63:  # a JSON integer the store can keep
            return web.Response(status=400)
        try:
            update = Update.de_json(raw, application.bot)
        except Exception:  # noqa: BLE001 - unreadable here: kept and answered, or Telegram would retry it forever
            await intake.record([], [raw])
        else:
            await intake.record([update])  # committed before Telegram hears 200
        return web.Response(text="ok")

    app = web.Application(client_max_size=1 << 20)
    app.router.add_post(WEBHOOK_PATH, telegram_update)
    return await _serve(app, config.listen, config.port)


async def start_ops_server(state: BotState, config: Config) -> web.AppRunner:
    """/healthz, /readyz and /metrics on a port of their own, in polling and webhook mode alike: bound to
    127.0.0.1 unless ``HEALTH_LISTEN`` says otherwise, so the metrics are never public by accident."""

    async def healthz(request: web.Request) -> web.Response:
        """Alive: the process answers HTTP."""
        return web.json_response({"status": "ok", "replica": config.replica, "model": state.scorer.card.version})

    async def readyz(request: web.Request) -> web.Response:
        """Ready for traffic: a model is loaded and the store answers."""
        try:
            store_ok = await asyncio.wait_for(state.store.ping(), 2.0)
        except (TimeoutError, OSError, ConnectionError):
            store_ok = False
        body = {
            "status": "ready" if store_ok else "not ready",
            "replica": config.replica,
            "model": state.scorer.card.version,
            "store": "ok" if store_ok else "down",
        }
        return web.json_response(body, status=200 if store_ok else 503)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=state.metrics.render(), headers={"Content-Type": state.metrics.content_type})

    app = web.Application(client_max_size=1024)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return await _serve(app, config.health_listen, config.health_port)


async def _serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
