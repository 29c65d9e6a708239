"""A user's and a group's allowance: rate limits, a place among the photos in hand, and throttled
notes, so a flood gets no flood back."""

from __future__ import annotations

from telegram import Message, Update

from ..context import Context
from ..delivery.sending import reply
from ..messages import lang
from ..scoring import Busy
from ..texts import text


async def note(update: Update, context: Context, message: Message, body: str) -> None:
    """A hint or a "slow down": at most one per user per ``note_interval_s``, else nothing is sent, so a
    flood gets no flood back (the update is still recorded as answered when its handler ends)."""
    state, user = context.state, update.effective_user
    interval = state.config.note_interval_s
    if user is not None and await state.store.hit(user.id, 1, interval, str(update.update_id), kind="note"):
        return
    await reply(message, body)


async def within_limits(context: Context, update: Update, answer_to: Message, work, photos: list[str] = ()) -> None:
    """The requester's rate limit (and a group's), a hit per photo (``photos``: their update ids; default
    the update's own), then a place among the photos in hand. ``work(allowed, wait)`` answers the first
    ``allowed`` photos; ``wait``: seconds until the rest would be."""
    state, language = context.state, lang(update)
    photos = list(photos) or [str(update.update_id)]
    async with state.in_flight():
        allowed, wait = 0, 0.0
        for token in photos:
            if wait := await state.allowance(update, token):
                break
            allowed += 1
        if allowed < len(photos):
            state.metrics.refused.labels("rate_limited").inc(len(photos) - allowed)
        if not allowed:
            await note(update, context, answer_to, text(language, "rate_limited", seconds=max(1, round(wait))))
            return
        try:
            async with state.scorer.admit():
                await work(allowed, wait)
        except Busy:
            state.metrics.refused.labels("busy").inc(allowed)
            await reply(answer_to, text(language, "busy"))
