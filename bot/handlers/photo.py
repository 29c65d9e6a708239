"""A photo, image file, sticker or clip to score: who asked (in private, by caption, by /mirror or a
mention in a group), then the answer: read, scored, worded, drawn, and sent (through the group's outbox)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ChatAction, ChatType

from classifier import UnreadableImage
from classifier.subject import NONE, PERSON

from ..context import Context
from ..delivery.sending import reply, send
from ..messages import has_image, is_clip, lang, mentions_me, pick_file
from ..resultcard import render
from ..texts import CAPTION_LIMIT, MESSAGE_LIMIT, clip_message, one_line, selfie_message, telegram_len, text
from .files import fetch_photo
from .limits import note, within_limits
from .sharing import share_buttons, share_link


async def private_image(update: Update, context: Context) -> None:
    await play(update, context, update.effective_message, update.effective_user)


async def group_caption(update: Update, context: Context) -> None:
    """A photo sent to a group with /mirror in its caption."""
    await play(update, context, update.effective_message, update.effective_user)


async def mirror_command(update: Update, context: Context) -> None:
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


async def mention(update: Update, context: Context) -> None:
    """@bot in a photo's caption, or in a reply to a photo."""
    message = update.effective_message
    if not mentions_me(message, context.bot.username):
        return
    await mirror_command(update, context)


async def not_an_image(update: Update, context: Context) -> None:
    await note(update, context, update.effective_message, text(lang(update), "not_image"))


async def text_hint(update: Update, context: Context) -> None:
    await note(update, context, update.effective_message, text(lang(update), "hint"))


async def animated_sticker(update: Update, context: Context) -> None:
    await note(update, context, update.effective_message, text(lang(update), "animated_sticker"))


@dataclass
class Play:
    """One request to score a photo: who asked, whose photo it is, and where the answer goes."""

    update: Update
    context: Context
    photo: Message
    player: User | None  # the photo's sender, named in a group's answer
    answer_to: Message

    @property
    def language(self) -> str:
        return lang(self.update)

    @property
    def own(self) -> bool:
        """Consent: only a player's own request keeps anything about them (scores, history, keys, links)."""
        asker = self.update.effective_user
        return self.player is not None and asker is not None and self.player.id == asker.id

    @property
    def group(self) -> bool:
        return self.update.effective_chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


async def play(
    update: Update, context: Context, photo_message: Message, player: User, reply_to: Message | None = None
) -> None:
    asked = Play(update, context, photo_message, player, reply_to or update.effective_message)
    await within_limits(context, update, asked.answer_to, lambda *_: answer_photo(asked))


async def answer_photo(asked: Play) -> None:
    state, chat_id = asked.context.state, asked.answer_to.chat_id
    data = await fetch_photo(asked.update, asked.context, asked.photo, asked.answer_to)
    if data is None:
        return
    cards = await state.store.cards(chat_id)
    action = ChatAction.UPLOAD_PHOTO if cards else ChatAction.TYPING
    await send(lambda: asked.context.bot.send_chat_action(chat_id, action))
    scored = await read(asked, data)
    del data  # the photo's bytes are not needed any more; only the decoded copy lives on, briefly
    if scored is None:
        return
    result, clip = scored
    history = await keep(asked, result) if asked.own else None
    caption, markup = await words(asked, result, clip, history, CAPTION_LIMIT if cards else MESSAGE_LIMIT)
    if cards:
        picture = await state.scorer.render(render, result, state.scorer.card)
        single = lambda: asked.answer_to.reply_photo(picture, caption=caption, reply_markup=markup, do_quote=True)  # noqa: E731
    else:
        single = lambda: asked.answer_to.reply_text(caption, reply_markup=markup, do_quote=True)  # noqa: E731
    line = one_line(asked.language, result, state.scorer.card, caption, asked.player)
    # the decoded photo (2.4 MiB at 800 px) need not wait out the upload or a group's outbox: only the card's
    # bytes do (~120 KiB)
    del result, clip
    sent = await state.outbox.answer(asked.answer_to, single, line)
    if sent is not None and sent.photo and asked.own and not asked.group:  # offered in inline mode from now on
        await state.store.set_last_card(asked.player.id, sent.photo[-1].file_id, caption)


async def read(asked: Play, data: bytes):
    """(result, clip or None) for a photo or a clip; None when it is unreadable or shows nothing to score
    (the user is told)."""
    state, language = asked.context.state, asked.language
    clip = None
    try:
        if is_clip(asked.photo):  # a video note, video or GIF: a few frames, one steadier answer
            clip = await state.scorer.score_clip(data)
            result = clip.result
        else:
            result = await state.scorer.score(data)
    except UnreadableImage as exc:
        state.metrics.refused.labels("unreadable").inc()
        await reply(asked.answer_to, text(language, "unreadable", reason=str(exc)))
        return None
    state.metrics.scored.labels(result.subject).inc()
    if result.subject == NONE:
        await reply(asked.answer_to, text(language, "none"))
        return None
    return result, clip


async def keep(asked: Play, result):
    """A person's score joins the group's /top, and a selfie the player's running answer (returned)."""
    store, player = asked.context.state.store, asked.player
    if result.subject != PERSON:
        return None
    if asked.group:
        await store.record_score(
            asked.answer_to.chat_id, player.id, player.full_name, result.largest.prediction.probabilities
        )
    if len(result.faces) == 1:
        return await store.add_answer(player.id, result.faces[0].prediction.probabilities)
    return None


async def words(asked: Play, result, clip, history, limit: int) -> tuple[str, InlineKeyboardMarkup | None]:
    """The answer's caption within ``limit`` and its buttons: "why?" for the photo's sender, and in a
    private chat a link to share."""
    state, language, bot = asked.context.state, asked.language, asked.context.bot
    card, player = state.scorer.card, asked.player
    name = player.first_name if asked.group and player else None
    link = None
    if not asked.group and asked.own:  # a link that opens the bot for a friend, and the game for a group
        link = await share_link(state, bot.username, result, card, player.id)
        limit -= telegram_len(text(language, "share_line", link=link)) + 1
    if clip is not None:
        caption = clip_message(language, clip, card, name, history, limit)
    else:
        caption = selfie_message(language, result, card, name, history, limit)
    buttons = []
    if clip is None and asked.own:  # the heat map reads one photo; only its sender may ask for it
        why = json.dumps({"file_id": pick_file(asked.photo)[0], "user_id": player.id})
        key = await state.remember(why, player.id)
        buttons.append([InlineKeyboardButton(text(language, "why_button"), callback_data="why:" + key)])
    if link is not None:
        caption += "\n" + text(language, "share_line", link=link)
        buttons.append(share_buttons(language, bot.username, link, caption.splitlines()[0]))
    return caption, InlineKeyboardMarkup(buttons) if buttons else None
