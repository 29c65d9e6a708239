"""What a Telegram message is to the bot (an image? a clip? a call to play?), shared by the delivery,
which queues and orders updates, and the handlers, which answer them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Message, Update

PHOTO_MIN_SIDE = 480  # enough for a 224-px model; larger sizes only cost bandwidth
MIRROR_CAPTION = re.compile(r"(?i)(^|\s)/mirror(@\w+)?\b")
MAX_ALBUM = 10  # Telegram's own limit for one album


@dataclass
class Album:
    """Photos sent together (one ``media_group_id``), answered once: a custom update that enters
    python-telegram-bot's dispatch (a ``TypeHandler``) as a single update does. Its first update
    stands for it where one is needed (sender, chat, language, errors)."""

    updates: list[Update]

    @property
    def first(self) -> Update:
        return self.updates[0]

    @property
    def update_id(self) -> int:
        return self.first.update_id

    @property
    def effective_user(self):
        return self.first.effective_user

    @property
    def effective_chat(self):
        return self.first.effective_chat

    @property
    def effective_message(self) -> Message | None:
        return self.first.effective_message


def lang(update: Update | Album) -> str:
    user = update.effective_user
    return user.language_code if user else "en"


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


def asks_for_me(message: Message, username: str | None) -> bool:
    """A group message that asks the bot to play: /mirror in its caption, or a mention."""
    return bool(MIRROR_CAPTION.search(message.caption or "")) or mentions_me(message, username)


def pick_file(message: Message) -> tuple[str, int | None]:
    """(file_id, size in bytes or None) of the photo size (or the clip, sticker, file) worth downloading."""
    if message.photo:
        sizes = sorted(message.photo, key=lambda p: p.width * p.height)
        chosen = next((p for p in sizes if min(p.width, p.height) >= PHOTO_MIN_SIDE), sizes[-1])
        return chosen.file_id, chosen.file_size
    media = message.video_note or message.video or message.animation or message.sticker or message.document
    return media.file_id, media.file_size


def album_of(update: Update) -> str | None:
    """The album an update's photo belongs to, as "<chat id>:<media_group_id>"."""
    message = update.effective_message
    if message is None or not message.media_group_id:
        return None
    return f"{message.chat_id}:{message.media_group_id}"
