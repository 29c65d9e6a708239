"""The last word on a failed update: logged (never the photo or the token), and the user still answered."""

from __future__ import annotations

import logging

from telegram import Update

from ..context import Context
from ..delivery.sending import reply
from ..messages import Album, lang
from ..texts import text

log = logging.getLogger(__name__)


async def on_error(update: Update | Album | object, context: Context) -> None:
    """Log what failed (never the photo or the token) and still answer the user."""
    error = context.error
    update_id = getattr(update, "update_id", None)
    if "state" in context.bot_data:
        context.state.metrics.errors.inc()
    log.error(
        "update %s failed: %s: %s",
        update_id,
        type(error).__name__,
        error,
        exc_info=(type(error), error, error.__traceback__) if error else None,
    )
    if isinstance(update, (Update, Album)) and update.effective_message:
        try:
            await reply(update.effective_message, text(lang(update), "error"))
        except Exception as exc:  # nothing more we can do; the log line above has the cause
            log.error("could not send the error reply for update %s: %s", update_id, type(exc).__name__)
