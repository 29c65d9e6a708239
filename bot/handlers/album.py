"""An album (photos sent together) is answered once: a grid card with each photo's score and the
album's verdict. It arrives as one ``Album`` update (``delivery/intake.py`` collects its photos)."""

from __future__ import annotations

import asyncio
import logging

from telegram import Message, User
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError

from classifier import UnreadableImage
from classifier.subject import PERSON

from ..context import Context
from ..delivery.sending import reply, send
from ..messages import MAX_ALBUM, Album, asks_for_me, has_image, lang, pick_file
from ..resultcard import render_album
from ..texts import CAPTION_LIMIT, MESSAGE_LIMIT, album_message, album_verdict, telegram_len, text
from .files import MAX_DOWNLOAD, file_bytes
from .limits import within_limits

log = logging.getLogger(__name__)


async def album(update: Album, context: Context) -> None:
    """In a group, only when it asked for the game (/mirror or a mention on any of its photos)."""
    updates, first = update.updates, update.first
    language, chat, player = lang(first), first.effective_chat, first.effective_user
    messages = [u.effective_message for u in updates if u.effective_message]
    shown = [u for u in updates if u.effective_message and has_image(u.effective_message)][:MAX_ALBUM]
    photos = [u.effective_message for u in shown]
    group = chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
    if group and not any(asks_for_me(m, context.bot.username) for m in messages):
        return  # friends sharing an album among themselves
    answer_to = messages[0]
    if not photos:
        await reply(answer_to, text(language, "not_image"))
        return

    def work(allowed: int, wait: float):
        over = (len(photos) - allowed, wait)
        return answer_album(context, photos[:allowed], player, answer_to, group, over)

    await within_limits(context, first, answer_to, work, [str(u.update_id) for u in shown])  # a hit per photo


async def answer_album(
    context: Context,
    photos: list[Message],
    player: User,
    answer_to: Message,
    group: bool,
    over: tuple[int, float] = (0, 0),
) -> None:
    """``over``: how many more photos the album had beyond the sender's limit, and the seconds until it frees."""
    state, language, chat_id = context.state, player.language_code, answer_to.chat_id
    cards = await state.store.cards(chat_id)
    await send(lambda: context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO if cards else ChatAction.TYPING))
    results = await asyncio.gather(*(score_quietly(context, m) for m in photos))
    for result in results:
        metric = state.metrics.scored.labels(result.subject) if result else state.metrics.refused.labels("unreadable")
        metric.inc()
    card, heads = state.scorer.card, [r.headline for r in results if r is not None and r.headline is not None]
    if not heads:
        await reply(answer_to, text(language, "album_none"))
        return
    verdict = state.scorer.classifier.explain(
        [sum(h.probabilities[l] for h in heads) / len(heads) for l in card.labels]
    )
    history = None
    for result in results:
        if result is None or result.subject != PERSON:
            continue
        if group:
            await state.store.record_score(
                chat_id, player.id, player.full_name, result.largest.prediction.probabilities
            )
        if len(result.faces) == 1:
            history = await state.store.add_answer(player.id, result.faces[0].prediction.probabilities)
    name = player.first_name if group else None
    limit, extra = CAPTION_LIMIT if cards else MESSAGE_LIMIT, ""
    if over[0]:
        extra = "\n" + text(language, "album_over_limit", n=over[0], seconds=max(1, round(over[1])))
    caption = album_message(language, results, verdict, card, name, history, limit - telegram_len(extra)) + extra
    if cards:
        picture = await state.scorer.render(render_album, results, card)
        single = lambda: answer_to.reply_photo(picture, caption=caption, do_quote=True)  # noqa: E731
    else:
        single = lambda: answer_to.reply_text(caption, do_quote=True)  # noqa: E731
    line = album_verdict(language, verdict, len(heads), card, player.first_name)
    del results  # its five decoded photos: only the card's bytes wait for the upload
    await state.outbox.answer(answer_to, single, line)


async def score_quietly(context: Context, message: Message):
    """One photo of an album: its result, or None when it cannot be fetched or read (its tile says so)."""
    state = context.state
    file_id, size = pick_file(message)
    if size and size > MAX_DOWNLOAD:
        return None
    try:
        return await state.scorer.score(await file_bytes(context, file_id))
    except UnreadableImage:
        return None
    except TelegramError as exc:  # e.g. "file is too big": the other photos are still answered
        log.info("an album photo could not be fetched: %s", type(exc).__name__)
        return None
