"""One small async function per kind of message. Wiring lives in ``app.py``."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from urllib.parse import quote

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultCachedPhoto,
    InlineQueryResultsButton,
    Message,
    Update,
    User,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ContextTypes

from classifier import UnreadableImage
from classifier.subject import NONE, PERSON

from .answered import final_reply
from .resultcard import render, render_album
from .scoring import Busy
from .store.base import SHARE_TTL_S
from .texts import (
    CAPTION_LIMIT,
    MESSAGE_LIMIT,
    album_message,
    album_verdict,
    clip_message,
    fit,
    history_line,
    label_name,
    one_line,
    selfie_message,
    telegram_len,
    text,
)

log = logging.getLogger(__name__)
MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API hands over files up to 20 MB
PHOTO_MIN_SIDE = 480  # enough for a 224-px model; larger sizes only cost bandwidth
MIRROR_CAPTION = re.compile(r"(?i)(^|\s)/mirror(@\w+)?\b")
MAX_ALBUM = 10  # Telegram's own limit for one album


def lang(update: Update) -> str:
    user = update.effective_user
    return user.language_code if user else "en"


async def send(coro_factory, attempts: int = 4):
    """Retry a send on transient network errors (429s are retried by the rate limiter)."""
    for attempt in range(attempts):
        try:
            return await coro_factory()
        except RetryAfter as exc:  # only reached if the limiter gave up
            delay = exc.retry_after
            await asyncio.sleep(delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay))
        except (TimedOut, NetworkError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5 * 2**attempt)
    return await coro_factory()


async def answer(coro_factory):
    """Send the reply that answers this update; it is recorded as answered as the request starts
    (``bot/answered.py``), so a crash right after cannot bring a second answer."""

    def final():
        final_reply()  # set again on a retry: the first attempt may have failed before any request
        return coro_factory()

    return await send(final)


async def reply(message: Message, body: str):
    return await answer(lambda: message.reply_text(body, do_quote=True))


# -- commands -----------------------------------------------------------------------------------
async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start, or a friend's shared link (t.me/<bot>?start=r<code>): their answer, then how to play."""
    language, shared = lang(update), None
    payload = (context.args or [""])[0]
    if payload.startswith("r") and len(payload) > 1:
        raw = await context.bot_data["state"].store.recall("share:" + payload[1:])
        shared = json.loads(raw) if raw else None
    if shared:
        state = context.bot_data["state"]
        card = state.scorer.card
        probs = {label: float(shared.get(label, 0.0)) for label in card.labels}
        top = max(probs, key=probs.get)
        key = "shared_pet" if shared.get("subject") == "pet" else "shared_person"
        intro = text(language, key, percent=round(100 * probs[top]), name=label_name(language, top, card))
        await reply(update.effective_message, intro + "\n\n" + text(language, "start"))
        return
    await reply(update.effective_message, text(language, "start"))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await reply(update.effective_message, text(lang(update), "help"))


async def about(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    card = context.bot_data["state"].scorer.card
    accuracy = card.metrics.get("test", {}).get("accuracy")
    shown = f"{accuracy:.1%}" if isinstance(accuracy, (int, float)) else "n/a"
    await reply(
        update.effective_message,
        text(lang(update), "about", version=card.version, backbone=card.backbone, accuracy=shown),
    )


async def privacy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    config = context.bot_data["state"].config
    window = round(max(config.rate_window_s, config.note_interval_s))  # the longest a rate limit keeps a hit
    await reply(update.effective_message, text(lang(update), "privacy", window=window))


async def me(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/me: the user's running answer over their past selfies."""
    state, language = context.bot_data["state"], lang(update)
    history = await state.store.history(update.effective_user.id)
    if history.empty:
        await reply(update.effective_message, text(language, "me_empty"))
        return
    body = history_line(language, history, state.scorer.card) + "\n" + text(language, "me_forget")
    await reply(update.effective_message, fit(body, MESSAGE_LIMIT))


async def forget_me(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/forgetme: erase every number kept about the user, everywhere, and say what went."""
    state, language = context.bot_data["state"], lang(update)
    gone = await state.store.forget(update.effective_user.id)
    if not gone.total:
        await reply(update.effective_message, text(language, "forgot_nothing"))
        return
    await reply(
        update.effective_message,
        text(
            language,
            "forgot",
            answers=gone.answers,
            entries=gone.leaderboard_entries,
            settings=gone.settings,
            others=gone.others,
        ),
    )


async def top(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = context.bot_data["state"]
    language, chat_id = lang(update), update.effective_chat.id
    lines = []
    for label in state.scorer.card.labels:
        ranked = await state.store.top(chat_id, label)
        if ranked:
            lines.append(text(language, "top_most", name=label_name(language, label, state.scorer.card)))
            lines += [
                text(language, "top_line", rank=i + 1, name=name, percent=round(p * 100))
                for i, (name, p) in enumerate(ranked)
            ]
    body = text(language, "top_title") + "\n\n" + "\n".join(lines) if lines else text(language, "top_empty")
    await reply(update.effective_message, fit(body, MESSAGE_LIMIT))


# -- photos -------------------------------------------------------------------------------------
async def private_image(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await play(update, context, update.effective_message, update.effective_user)


async def group_caption(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo sent to a group with /mirror in its caption."""
    await play(update, context, update.effective_message, update.effective_user)


async def mirror_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/mirror as a reply to a photo scores that photo, named for its sender; kept for them only
    when they asked themselves (``answer_photo``)."""
    message = update.effective_message
    target = message.reply_to_message
    if target and has_image(target):
        await play(update, context, target, target.from_user, reply_to=message)
    elif has_image(message):
        await play(update, context, message, update.effective_user)
    else:
        key = "hint" if update.effective_chat.type == ChatType.PRIVATE else "group_hint"
        await note(update, context, message, text(lang(update), key))


async def mention(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """@bot in a photo's caption, or in a reply to a photo."""
    message = update.effective_message
    if not mentions_me(message, context.bot.username):
        return
    await mirror_command(update, context)


async def not_an_image(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await note(update, context, update.effective_message, text(lang(update), "not_image"))


async def text_hint(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await note(update, context, update.effective_message, text(lang(update), "hint"))


async def note(update: Update, context, message: Message, body: str) -> None:
    """A hint or a "slow down": at most one per user per ``note_interval_s``, else nothing is sent, so a
    flood gets no flood back (the update is still recorded as answered when its handler ends)."""
    state, user = context.bot_data["state"], update.effective_user
    interval = state.config.note_interval_s
    if user is not None and await state.store.hit(user.id, 1, interval, str(update.update_id), kind="note"):
        return
    await reply(message, body)


def has_image(message: Message) -> bool:
    """A photo, an image file or a static sticker: something to score (a clip included, see is_clip)."""
    doc = message.document
    sticker = message.sticker and not (message.sticker.is_animated or message.sticker.is_video)
    return bool(message.photo or sticker or is_clip(message) or (doc and (doc.mime_type or "").startswith("image/")))


def is_clip(message: Message) -> bool:
    """A round video message, a video, or an animation (Telegram sends GIFs as MP4 animations)."""
    doc = message.document
    mime = (doc.mime_type or "") if doc else ""
    return bool(message.video_note or message.video or message.animation or mime.startswith("video/")) or (
        mime == "image/gif"
    )


def mentions_me(message: Message, username: str | None) -> bool:
    if not username:
        return False
    entities = message.parse_entities(["mention"]) or message.parse_caption_entities(["mention"])
    return any(v.lower() == "@" + username.lower() for v in entities.values())


def pick_file(message: Message):
    """(file_id, size in bytes or None) of the photo size (or the clip, sticker, file) worth downloading."""
    if message.photo:
        sizes = sorted(message.photo, key=lambda p: p.width * p.height)
        chosen = next((p for p in sizes if min(p.width, p.height) >= PHOTO_MIN_SIDE), sizes[-1])
        return chosen.file_id, chosen.file_size
    media = message.video_note or message.video or message.animation or message.sticker or message.document
    return media.file_id, media.file_size


async def animated_sticker(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await note(update, context, update.effective_message, text(lang(update), "animated_sticker"))


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


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """@bot in any chat: the user's own last result card, to post there; shown to nobody else."""
    state, language, query = context.bot_data["state"], lang(update), update.inline_query
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


async def play(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    photo_message: Message,
    player: User,
    reply_to: Message | None = None,
) -> None:
    answer_to = reply_to or update.effective_message
    await within_limits(
        context, update, answer_to, lambda *_: answer_photo(update, context, photo_message, player, answer_to)
    )


async def within_limits(context, update: Update, answer_to: Message, work, photos: list[str] = ()) -> None:
    """The requester's rate limit (and a group's), a hit per photo (``photos``: their update ids; default
    the update's own), then a place among the photos in hand. ``work(allowed, wait)`` answers the first
    ``allowed`` photos; ``wait``: seconds until the rest would be."""
    state, language = context.bot_data["state"], lang(update)
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


async def answer_photo(
    update: Update, context, photo_message: Message, player: User | None, answer_to: Message
) -> None:
    state, language, chat = context.bot_data["state"], lang(update), update.effective_chat
    # consent: only a player's own request keeps anything about them (scores, history, keys, links)
    own = player is not None and update.effective_user is not None and player.id == update.effective_user.id
    data = await fetch_photo(update, context, photo_message, answer_to)
    if data is None:
        return
    cards = await state.store.cards(chat.id)
    action = ChatAction.UPLOAD_PHOTO if cards else ChatAction.TYPING
    await send(lambda: context.bot.send_chat_action(chat.id, action))
    clip = None
    try:
        if is_clip(photo_message):  # a video note, video or GIF: a few frames, one steadier answer
            clip = await state.scorer.score_clip(data)
            result = clip.result
        else:
            result = await state.scorer.score(data)
    except UnreadableImage as exc:
        state.metrics.refused.labels("unreadable").inc()
        await reply(answer_to, text(language, "unreadable", reason=str(exc)))
        return
    del data  # the photo's bytes are not needed any more; only the decoded copy lives on, briefly
    state.metrics.scored.labels(result.subject).inc()
    if result.subject == NONE:
        await reply(answer_to, text(language, "none"))
        return
    group = chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
    card = state.scorer.card
    history = None
    if result.subject == PERSON and own:
        if group:
            await state.store.record_score(
                chat.id, player.id, player.full_name, result.largest.prediction.probabilities
            )
        if len(result.faces) == 1:  # a selfie: it joins the player's running answer
            history = await state.store.add_answer(player.id, result.faces[0].prediction.probabilities)
    name = player.first_name if group and player else None
    limit, link = CAPTION_LIMIT if cards else MESSAGE_LIMIT, None
    if not group and own:  # a result worth sharing: a link that opens the bot for a friend, and the game for a group
        link = await share_link(state, context.bot.username, result, card, player.id)
        limit -= telegram_len(text(language, "share_line", link=link)) + 1
    if clip is not None:
        caption = clip_message(language, clip, card, name, history, limit)
    else:
        caption = selfie_message(language, result, card, name, history, limit)
    buttons = []
    if clip is None and own:  # the heat map reads one photo; only its sender may ask for it
        why = json.dumps({"file_id": pick_file(photo_message)[0], "user_id": player.id})
        key = await state.remember(why, player.id)
        buttons.append([InlineKeyboardButton(text(language, "why_button"), callback_data="why:" + key)])
    if link is not None:
        caption += "\n" + text(language, "share_line", link=link)
        buttons.append(share_buttons(language, context.bot.username, link, caption.splitlines()[0]))
    markup = InlineKeyboardMarkup(buttons) if buttons else None
    if cards:
        picture = await state.scorer.render(render, result, card)
        single = lambda: answer_to.reply_photo(picture, caption=caption, reply_markup=markup, do_quote=True)  # noqa: E731
    else:
        single = lambda: answer_to.reply_text(caption, reply_markup=markup, do_quote=True)  # noqa: E731
    line = one_line(language, result, card, caption, player)
    # the decoded photo (2.4 MiB at 800 px) need not wait out the upload or a group's outbox: only the card's
    # bytes do (~120 KiB). Sixteen photos in hand kept ~40 MiB of decoded photos for nothing
    del result, clip
    sent = await state.outbox.answer(answer_to, single, line)
    if sent is not None and sent.photo and own and not group:  # offered in inline mode from now on
        await state.store.set_last_card(player.id, sent.photo[-1].file_id, caption)


async def fetch_photo(update: Update, context, photo_message: Message, answer_to: Message) -> bytes | None:
    """Size check and download; answers the user itself and returns None on refusal."""
    language = lang(update)
    file_id, size = pick_file(photo_message)
    if size and size > MAX_DOWNLOAD:
        context.bot_data["state"].metrics.refused.labels("too_large").inc()
        await reply(answer_to, text(language, "too_large"))
        return None
    return await download(update, context, file_id, answer_to)


async def download(update: Update, context, file_id: str, answer_to: Message) -> bytes | None:
    try:
        tg_file = await send(lambda: context.bot.get_file(file_id))
        return bytes(await send(lambda: tg_file.download_as_bytearray()))
    except Exception as exc:
        if "too big" in str(exc).lower():  # the Bot API's own answer for files over 20 MB
            await reply(answer_to, text(lang(update), "too_large"))
            return None
        raise


async def album(updates: list[Update], context: ContextTypes.DEFAULT_TYPE) -> None:
    """An album (photos sent together): one answer, a grid card with each photo's score and the
    album's verdict. In a group only when it asked for the game (/mirror or a mention on any photo)."""
    first = updates[0]
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
    context, photos: list[Message], player: User, answer_to: Message, group: bool, over: tuple[int, float] = (0, 0)
) -> None:
    """``over``: how many more photos the album had beyond the sender's limit, and the seconds until it frees."""
    state, language, chat_id = context.bot_data["state"], player.language_code, answer_to.chat_id
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


async def score_quietly(context, message: Message):
    """One photo of an album: its result, or None when it cannot be fetched or read (its tile says so)."""
    state = context.bot_data["state"]
    file_id, size = pick_file(message)
    if size and size > MAX_DOWNLOAD:
        return None
    try:
        tg_file = await send(lambda: context.bot.get_file(file_id))
        data = bytes(await send(lambda: tg_file.download_as_bytearray()))
        return await state.scorer.score(data)
    except UnreadableImage:
        return None
    except TelegramError as exc:  # e.g. "file is too big": the other photos are still answered
        log.info("an album photo could not be fetched: %s", type(exc).__name__)
        return None


def asks_for_me(message: Message, username: str | None) -> bool:
    """A group message that asks the bot to play: /mirror in its caption, or a mention."""
    return bool(MIRROR_CAPTION.search(message.caption or "")) or mentions_me(message, username)


async def cards_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cards on|off: picture card or text-only answers in this chat."""
    state, language = context.bot_data["state"], lang(update)
    choice = (context.args or [""])[0].lower()
    if choice not in ("on", "off"):
        await reply(update.effective_message, text(language, "cards_usage"))
        return
    await state.store.set_cards(update.effective_chat.id, choice == "on")
    await reply(update.effective_message, text(language, "cards_" + choice))


async def reload_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reload (admins only): switch to the newly promoted model after its canary check."""
    state = context.bot_data["state"]
    if update.effective_user.id not in state.config.admins:
        await reply(update.effective_message, text(lang(update), "admins_only"))
        return
    _, outcome = await state.reload_everywhere()  # every replica follows, each after its own canary
    await reply(update.effective_message, outcome)


async def why_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The "why?" button: the heat map of what looked puppy and what looked kitty, for the photo's
    sender only; anyone else gets a word only they see, and the chat nothing."""
    state, language, query = context.bot_data["state"], lang(update), update.callback_query
    file_id, owner = why_key(await state.store.recall(query.data.split(":", 1)[1]))
    if file_id is not None and owner != query.from_user.id:
        await answer(lambda: query.answer(text(language, "why_not_yours"), show_alert=True))
        return
    await send(lambda: query.answer())
    answer_to = query.message
    if file_id is None or answer_to is None:
        if answer_to is not None:
            await note(update, context, answer_to, text(language, "why_expired"))
        return
    async with state.in_flight():
        if wait := await state.allowance(update):
            await note(update, context, answer_to, text(language, "rate_limited", seconds=max(1, round(wait))))
            return
        try:
            async with state.scorer.admit():
                data = await download(update, context, file_id, answer_to)
                if data is None:
                    return
                await send(lambda: context.bot.send_chat_action(answer_to.chat_id, ChatAction.UPLOAD_PHOTO))
                picture = await state.scorer.why(data)
        except Busy:
            await reply(answer_to, text(language, "busy"))
            return
        card = state.scorer.card
        caption = text(
            language, "why_caption", plus=label_name(language, "dog", card), minus=label_name(language, "cat", card)
        )
        await answer(lambda: answer_to.reply_photo(picture, caption=caption, do_quote=True))


def why_key(value: str | None) -> tuple[str | None, int | None]:
    """(photo file id, owner's user id) kept for a "why?" button; (None, None) when gone, or kept
    before owners were (a bare file id: treated as expired)."""
    try:
        kept = json.loads(value) if value else None
    except ValueError:
        kept = None
    if not isinstance(kept, dict) or not isinstance(kept.get("file_id"), str):
        return None, None
    return kept["file_id"], kept.get("user_id")


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log what failed (never the photo or the token) and still answer the user."""
    error = context.error
    update_id = getattr(update, "update_id", None)
    if "state" in context.bot_data:
        context.bot_data["state"].metrics.errors.inc()
    log.error(
        "update %s failed: %s: %s",
        update_id,
        type(error).__name__,
        error,
        exc_info=(type(error), error, error.__traceback__) if error else None,
    )
    if isinstance(update, Update) and update.effective_message:
        try:
            await reply(update.effective_message, text(lang(update), "error"))
        except Exception as exc:  # nothing more we can do; the log line above has the cause
            log.error("could not send the error reply for update %s: %s", update_id, type(exc).__name__)
