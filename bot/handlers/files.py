"""A photo's bytes from Telegram, within the Bot API's 20 MB; refusals are answered here."""

from __future__ import annotations

from telegram import Message, Update

from ..context import Context
from ..delivery.sending import reply, send
from ..messages import lang, pick_file
from ..texts import text

MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API hands over files up to 20 MB


async def fetch_photo(update: Update, context: Context, photo_message: Message, answer_to: Message) -> bytes | None:
    """Size check and download; answers the user itself and returns None on refusal."""
    language = lang(update)
    file_id, size = pick_file(photo_message)
    if size and size > MAX_DOWNLOAD:
        context.state.metrics.refused.labels("too_large").inc()
        await reply(answer_to, text(language, "too_large"))
        return None
    return await download(update, context, file_id, answer_to)


async def download(update: Update, context: Context, file_id: str, answer_to: Message) -> bytes | None:
    """The file's bytes; None when the Bot API refuses it as too big (the user is told)."""
    try:
        return await file_bytes(context, file_id)
    except Exception as exc:
        if "too big" in str(exc).lower():  # the Bot API's own answer for files over 20 MB
            await reply(answer_to, text(lang(update), "too_large"))
            return None
        raise


async def file_bytes(context: Context, file_id: str) -> bytes:
    tg_file = await send(lambda: context.bot.get_file(file_id))
    return bytes(await send(lambda: tg_file.download_as_bytearray()))
