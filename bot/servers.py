"""The bot's two HTTP servers: the webhook (POST /telegram only, recorded before Telegram hears 200)
and the ops port (/healthz, /readyz, /metrics), bound apart so metrics are never public by accident."""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from .config import Config
from .delivery.intake import Intake
from .state import BotState

WEBHOOK_PATH = "/telegram"


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
