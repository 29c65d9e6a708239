"""The handlers' context, typed: ``context.state`` is the process's ``BotState`` (kept in
``bot_data['state']``, where python-telegram-bot keeps what all handlers share)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram.ext import CallbackContext, ContextTypes, ExtBot

if TYPE_CHECKING:
    from .state import BotState


class Context(CallbackContext[ExtBot, dict, dict, dict]):
    @property
    def state(self) -> BotState:
        return self.bot_data["state"]


CONTEXT_TYPES = ContextTypes(context=Context)
