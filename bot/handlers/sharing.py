"""Sharing an answer: a link that opens the bot on a friend's answer, the buttons under a private
answer, and inline mode (the user's last card, to post in any chat)."""

from __future__ import annotations

import json
import secrets
from urllib.parse import quote

from telegram import InlineKeyboardButton, InlineQueryResultCachedPhoto, InlineQueryResultsButton, Update

from ..context import Context
from ..delivery.sending import answer
from ..messages import lang
from ..store.base import SHARE_TTL_S
from ..texts import text


async def share_link(state, username: str | None, result, card, user_id: int) -> str:
    """t.me/<bot>?start=r<code>: the code keeps the answer's numbers (no photo, no name) for 30 days,
    as the user's (erased by /forgetme)."""
    head = result.headline
    code = secrets.token_urlsafe(6)
    numbers = json.dumps({"subject": result.subject, **head.probabilities})
    await state.store.remember("share:" + code, numbers, ttl_s=SHARE_TTL_S, user_id=user_id)
    return f"t.me/{username}?start=r{code}"


def share_buttons(language: str, username: str | None, link: str, line: str) -> list[InlineKeyboardButton]:
    share = f"https://t.me/share/url?url={quote('https://' + link, safe='')}&text={quote(line, safe='')}"
    group = f"https://t.me/{username}?startgroup=play"
    return [
        InlineKeyboardButton(text(language, "share_button"), url=share),
        InlineKeyboardButton(text(language, "group_button"), url=group),
    ]


async def inline_query(update: Update, context: Context) -> None:
    """@bot in any chat: the user's own last result card, to post there; shown to nobody else."""
    state, language, query = context.state, lang(update), update.inline_query
    config = state.config
    token = str(update.update_id)
    if await state.store.hit(query.from_user.id, config.inline_rate_limit, config.rate_window_s, token, "inline"):
        return  # over the window: left unanswered (Telegram asks again as they type)
    last = await state.store.last_card(query.from_user.id)
    if last is None:
        button = InlineQueryResultsButton(text(language, "inline_empty"), start_parameter="inline")
        await answer(lambda: query.answer([], button=button, is_personal=True, cache_time=0))
        return
    file_id, caption = last
    result = InlineQueryResultCachedPhoto("last", file_id, caption=caption)
    await answer(lambda: query.answer([result], is_personal=True, cache_time=0))
