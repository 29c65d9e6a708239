"""Wiring: configuration + classifier -> a python-telegram-bot Application with its handlers, fed by
the durable intake (polling or webhook), stopped gracefully (photos in hand are answered before exit).

A photo's route: ``delivery/intake.py`` (recorded, taken fairly) -> PTB's dispatch -> ``handlers/photo.py``
(or ``handlers/album.py``) -> ``scoring.py`` -> ``classifier`` -> ``delivery/sending.py`` (the answer,
recorded by ``delivery/exactly_once.py``). State lives in ``store/``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from classifier import Classifier

from .config import ALLOWED_UPDATES, Config
from .context import CONTEXT_TYPES
from .delivery.exactly_once import AnsweringRequest
from .delivery.intake import UPDATES_PER_POLL, Intake  # noqa: F401 - UPDATES_PER_POLL: the tests read it here
from .delivery.pacing import ChatPacer, TelegramLimits
from .handlers import album, commands, errors, photo, sharing, why
from .logs import configure_logging  # noqa: F401 - part of the app's surface (python -m bot)
from .loopwatch import LoopWatch
from .messages import MIRROR_CAPTION, Album
from .metrics import Metrics
from .servers import WEBHOOK_PATH, start_ops_server, start_webhook_server
from .state import BotState
from .store import open_store

log = logging.getLogger(__name__)


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
    # updates come through the durable intake (delivery/intake.py), not PTB's own updater
    return ApplicationBuilder().bot(bot).context_types(CONTEXT_TYPES).concurrent_updates(256).updater(None)


def add_handlers(application: Application) -> None:
    private, groups = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
    clip = filters.VIDEO_NOTE | filters.VIDEO | filters.ANIMATION | filters.Document.VIDEO
    image = filters.PHOTO | filters.Document.IMAGE | filters.Sticker.STATIC | clip
    application.add_handlers(
        [
            CommandHandler("start", commands.start),
            CommandHandler("help", commands.help_command),
            CommandHandler("about", commands.about),
            CommandHandler("privacy", commands.privacy),
            CommandHandler("top", commands.top),
            CommandHandler("me", commands.me),
            CommandHandler("forgetme", commands.forget_me),
            CommandHandler("mirror", photo.mirror_command),
            CommandHandler("cards", commands.cards_command),
            CommandHandler("reload", commands.reload_command),
            CallbackQueryHandler(why.why_button, pattern=r"^why:"),
            InlineQueryHandler(sharing.inline_query),
            TypeHandler(Album, album.album),  # photos sent together, queued and handed over as one (delivery/intake.py)
            MessageHandler(private & (filters.Sticker.ANIMATED | filters.Sticker.VIDEO), photo.animated_sticker),
            MessageHandler(private & image, photo.private_image),
            MessageHandler(groups & image & filters.CaptionRegex(MIRROR_CAPTION), photo.group_caption),
            MessageHandler(groups & (filters.Entity("mention") | filters.CaptionEntity("mention")), photo.mention),
            MessageHandler(private & filters.TEXT & ~filters.COMMAND, photo.text_hint),
            MessageHandler(private & ~filters.COMMAND & ~filters.TEXT, photo.not_an_image),
        ]
    )
    application.add_error_handler(errors.on_error)


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
