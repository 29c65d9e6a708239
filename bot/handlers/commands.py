"""The slash commands: /start (and shared links), /help, /about, /privacy, /me, /forgetme, /top,
/cards, /reload. (/mirror scores a photo: ``photo.py``.)"""

from __future__ import annotations

import json

from telegram import Update

from ..context import Context
from ..delivery.sending import reply
from ..messages import lang
from ..texts import MESSAGE_LIMIT, fit, history_line, label_name, text


async def start(update: Update, context: Context) -> None:
    """/start, or a friend's shared link (t.me/<bot>?start=r<code>): their answer, then how to play."""
    language, shared = lang(update), None
    payload = (context.args or [""])[0]
    if payload.startswith("r") and len(payload) > 1:
        raw = await context.state.store.recall("share:" + payload[1:])
        shared = json.loads(raw) if raw else None
    if shared:
        state = context.state
        card = state.scorer.card
        probs = {label: float(shared.get(label, 0.0)) for label in card.labels}
        top = max(probs, key=probs.get)
        key = "shared_pet" if shared.get("subject") == "pet" else "shared_person"
        intro = text(language, key, percent=round(100 * probs[top]), name=label_name(language, top, card))
        await reply(update.effective_message, intro + "\n\n" + text(language, "start"))
        return
    await reply(update.effective_message, text(language, "start"))


async def help_command(update: Update, context: Context) -> None:
    await reply(update.effective_message, text(lang(update), "help"))


async def about(update: Update, context: Context) -> None:
    card = context.state.scorer.card
    accuracy = card.metrics.get("test", {}).get("accuracy")
    shown = f"{accuracy:.1%}" if isinstance(accuracy, (int, float)) else "n/a"
    await reply(
        update.effective_message,
        text(lang(update), "about", version=card.version, backbone=card.backbone, accuracy=shown),
    )


async def privacy(update: Update, context: Context) -> None:
    config = context.state.config
    window = round(max(config.rate_window_s, config.note_interval_s))  # the longest a rate limit keeps a hit
    await reply(update.effective_message, text(lang(update), "privacy", window=window))


async def me(update: Update, context: Context) -> None:
    """/me: the user's running answer over their past selfies."""
    state, language = context.state, lang(update)
    history = await state.store.history(update.effective_user.id)
    if history.empty:
        await reply(update.effective_message, text(language, "me_empty"))
        return
    body = history_line(language, history, state.scorer.card) + "\n" + text(language, "me_forget")
    await reply(update.effective_message, fit(body, MESSAGE_LIMIT))


async def forget_me(update: Update, context: Context) -> None:
    """/forgetme: erase every number kept about the user, everywhere, and say what went."""
    state, language = context.state, lang(update)
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


async def top(update: Update, context: Context) -> None:
    state = context.state
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


async def cards_command(update: Update, context: Context) -> None:
    """/cards on|off: picture card or text-only answers in this chat."""
    state, language = context.state, lang(update)
    choice = (context.args or [""])[0].lower()
    if choice not in ("on", "off"):
        await reply(update.effective_message, text(language, "cards_usage"))
        return
    await state.store.set_cards(update.effective_chat.id, choice == "on")
    await reply(update.effective_message, text(language, "cards_" + choice))


async def reload_command(update: Update, context: Context) -> None:
    """/reload (admins only): switch to the newly promoted model after its canary check."""
    state = context.state
    if update.effective_user.id not in state.config.admins:
        await reply(update.effective_message, text(lang(update), "admins_only"))
        return
    _, outcome = await state.reload_everywhere()  # every replica follows, each after its own canary
    await reply(update.effective_message, outcome)
