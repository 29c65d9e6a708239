"""The "why?" button under a photo's answer: a heat map of what looked puppy and what looked kitty,
for the photo's sender only."""

from __future__ import annotations

import json

from telegram import Update
from telegram.constants import ChatAction

from ..context import Context
from ..delivery.sending import answer, send
from ..messages import lang
from ..texts import label_name, text
from .files import download
from .limits import note, within_limits


async def why_button(update: Update, context: Context) -> None:
    """The "why?" button: the heat map of what looked puppy and what looked kitty, for the photo's
    sender only; anyone else gets a word only they see, and the chat nothing."""
    state, language, query = context.state, lang(update), update.callback_query
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

    async def heat_map(*_):
        data = await download(update, context, file_id, answer_to)
        if data is None:
            return
        await send(lambda: context.bot.send_chat_action(answer_to.chat_id, ChatAction.UPLOAD_PHOTO))
        picture = await state.scorer.why(data)
        card = state.scorer.card
        caption = text(
            language, "why_caption", plus=label_name(language, "dog", card), minus=label_name(language, "cat", card)
        )
        await answer(lambda: answer_to.reply_photo(picture, caption=caption, do_quote=True))

    await within_limits(context, update, answer_to, heat_map)  # the same limits as a photo


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
