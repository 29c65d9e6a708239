"""Whole answers as the bot says them, per language, from the templates in ``bot/phrases.py``; and
Telegram's length limits. ``language``, ``text``, ``TEXTS`` and ``EMOJI`` are importable from here too."""

from __future__ import annotations

from .phrases import EMOJI, TEXTS, language, text

CAPTION_LIMIT = 1024  # Telegram's longest photo caption ...
MESSAGE_LIMIT = 4096  # ... and text message; longer ones are refused with a 400


def telegram_len(body: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(body.encode("utf-16-le")) // 2


def fit(body: str, limit: int, keep_last: int = 0) -> str:
    """``body`` within ``limit`` (Telegram's count): whole lines from the top, and its last ``keep_last``
    lines (a verdict), with "…" where lines were left out. A first line too long alone is cut short."""
    if telegram_len(body) <= limit:
        return body
    lines = body.split("\n")
    keep_last = min(keep_last, len(lines) - 1)
    tail = lines[len(lines) - keep_last :] if keep_last else []
    room = limit - telegram_len("\n".join(["…", *tail]))
    if room < 1:  # the tail alone is too long: plain cut from the top
        tail, room = [], limit - 1
    kept: list[str] = []
    for line in lines[: len(lines) - len(tail)]:
        cost = telegram_len(line) + 1  # its newline
        if cost > room:
            break
        kept.append(line)
        room -= cost
    if not kept:  # the first line alone is too long: cut inside it
        cut, used = [], 0
        for ch in lines[0]:
            used += telegram_len(ch)
            if used > room:
                break
            cut.append(ch)
        return "\n".join(["".join(cut) + "…", *tail])
    return "\n".join([*kept, "…", *tail])


def label_name(lang: str, label: str, card=None) -> str:
    names = TEXTS[language(lang)]["names"]
    if label in names:
        return names[label]
    return card.display(label) if card else label


def bar(percent: int, width: int = 10) -> str:
    filled = round(percent * width / 100)
    return "█" * filled + "░" * (width - filled)


def parts_of(lang: str, prediction, card) -> tuple[str, dict, list]:
    """("73% puppy, 27% kitty", percents by label, labels biggest first), localised."""
    from classifier.wording import whole_percentages

    labels = list(prediction.probabilities)
    percents = dict(zip(labels, whole_percentages([prediction.probabilities[l] for l in labels])))
    order = sorted(labels, key=lambda l: -percents[l])
    return ", ".join(f"{percents[l]}% {label_name(lang, l, card)}" for l in order), percents, order


def position(lang: str, index: int, count: int) -> str:
    if index == 0:
        return text(lang, "pos_left")
    if index == count - 1:
        return text(lang, "pos_right")
    if count % 2 and index == count // 2:
        return text(lang, "pos_middle")
    return text(lang, "pos_nth", number=index + 1)


def result_message(lang: str, prediction, card, name: str | None = None) -> str:
    """Localised "you are 73% puppy, 27% kitty" plus one bar per label."""
    parts, percents, order = parts_of(lang, prediction, card)
    head = text(lang, "result_named", name=name, parts=parts) if name else text(lang, "result", parts=parts)
    return f"{head}\n{bars(percents, order, card)}"


def bars(percents: dict, order: list, card) -> str:
    """One line per label, biggest first: "🐶 ███████░░░ 73%"."""
    return "\n".join(f"{EMOJI.get(l, card.emoji.get(l, '•'))} {bar(percents[l])} {percents[l]}%" for l in order)


def history_line(lang: str, history, card) -> str:
    """ "📈 you, over 4 selfies: 71% puppy, 29% kitty"."""
    from classifier.wording import whole_percentages

    labels = list(history.mean)
    percents = dict(zip(labels, whole_percentages([history.mean[l] for l in labels])))
    order = sorted(labels, key=lambda l: -percents[l])
    parts = ", ".join(f"{percents[l]}% {label_name(lang, l, card)}" for l in order)
    return text(lang, "history" if history.count != 1 else "history_one", n=history.count, parts=parts)


def _top(lang: str, prediction, card) -> tuple[str, int, str, str]:
    """(label, percent, localised name, emoji) of a prediction's top label."""
    _, percents, order = parts_of(lang, prediction, card)
    top = order[0]
    return top, percents[top], label_name(lang, top, card), EMOJI.get(top, card.emoji.get(top, ""))


def breed(lang: str, pet) -> str | None:
    from classifier.breeds import breed_name

    return breed_name(pet.breed, language(lang)) if pet.breed is not None else None


def breed_words(lang: str, pet) -> dict | None:
    """A pet's breed for a template: ``breed`` ("Egyptian Mau") and ``a_breed`` ("an Egyptian Mau"), or None."""
    from classifier.wording import indefinite

    said = breed(lang, pet)
    return {"breed": said, "a_breed": indefinite(said)} if said else None


def animal(lang: str, label: str) -> str:
    return TEXTS[language(lang)]["animals"].get(label, TEXTS["en"]["animals"].get(label, label))


def pet_message(lang: str, pet, card, name: str | None = None, others=()) -> str:
    """ "this one is 99% kitty 🐱 — a Siamese, I'd say" plus one bar per label, and a line for each
    other pet in the photo."""
    _, percents, order = parts_of(lang, pet.prediction, card)
    top = order[0]
    percent, label, emoji = percents[top], label_name(lang, top, card), EMOJI.get(top, card.emoji.get(top, ""))
    if name:
        head = text(lang, "pet_named", name=name, percent=percent, label=label, emoji=emoji).rstrip()
    else:
        head = text(lang, "pet", percent=percent, name=label, emoji=emoji).rstrip()
    if words := breed_words(lang, pet):
        head = text(lang, "breed", head=head, **words)
    lines = [head, bars(percents, order, card)]
    for other in others:
        _, percent, label, emoji = _top(lang, other.prediction, card)
        lines.append(text(lang, "another_pet", percent=percent, name=label, emoji=emoji).rstrip())
    return "\n".join(lines)


def your_pet(lang: str, pet, card, key: str = "your_pet") -> str:
    """ "your cat: 97% kitty 🐱"."""
    top, percent, label, emoji = _top(lang, pet.prediction, card)
    return text(lang, key, animal=animal(lang, top), percent=percent, name=label, emoji=emoji).rstrip()


def pets_lines(lang: str, pets, card, inline: bool) -> list[str]:
    """Lines for the pets beside people: their answers (unless already ``inline``) and breeds."""
    lines = [] if inline else [your_pet(lang, p, card, "pet_line") for p in pets]
    for pet in pets:
        if words := breed_words(lang, pet):
            lines.append(text(lang, "breed_line", animal=animal(lang, pet.prediction.label), **words))
    return lines


def selfie_message(lang: str, result, card, name: str | None = None, history=None, limit: int = CAPTION_LIMIT) -> str:
    """A pet: its answer. One face: the classic answer (and the running one over the user's
    selfies). Several: a line per face and who is most puppy. Within ``limit`` (see ``fit``)."""
    if result.subject == "pet":
        main = result.pet
        return fit(pet_message(lang, main, card, name, [p for p in result.pets if p is not main]), limit)
    faces, pets = result.faces, result.pets
    if len(faces) == 1:
        body = result_message(lang, faces[0].prediction, card, name)
        if pets:  # "you: 62% puppy 🐶 · your cat: 97% kitty 🐱", then the person's bars
            _, percent, label, emoji = _top(lang, faces[0].prediction, card)
            who = name or text(lang, "you")
            person = f"{percent}% {label} {emoji}".rstrip()
            line = text(
                lang, "with_pets", who=who, person=person, pets=" · ".join(your_pet(lang, p, card) for p in pets)
            )
            body = "\n".join([line, body.split("\n", 1)[1], *pets_lines(lang, pets, card, inline=True)])
        if history is not None and history.count >= 2:
            body += "\n" + history_line(lang, history, card)
        return fit(body, limit)
    lines = [text(lang, "faces_header", n=len(faces))]
    lines += [
        text(lang, "face_line", number=i + 1, parts=parts_of(lang, f.prediction, card)[0]) for i, f in enumerate(faces)
    ]
    top_label = "dog" if "dog" in card.labels else card.labels[-1]
    tail = [
        text(
            lang,
            "verdict",
            name=label_name(lang, top_label, card),
            position=position(lang, result.most(top_label), len(faces)),
            emoji=EMOJI.get(top_label, ""),
        ).rstrip()
    ] + pets_lines(lang, pets, card, inline=False)
    return fit("\n".join(lines + tail), limit, keep_last=len(tail))


def album_message(
    lang: str, results: list, verdict, card, name: str | None = None, history=None, limit: int = CAPTION_LIMIT
) -> str:
    """One line per photo (in the grid's order), then the album's verdict over the photos that had
    a face or a pet, with bars, and the running answer over the user's selfies. Over ``limit``, the
    photos' lines are cut short and the verdict stays."""
    lines = [text(lang, "album_header", n=len(results))]
    for number, result in enumerate(results, 1):
        head = result.headline if result is not None else None
        if head is None:
            lines.append(text(lang, "album_nothing", number=number))
            continue
        parts = parts_of(lang, head, card)[0]
        if result.subject != "pet" and result.pets:  # a pet beside the person
            parts += " · " + " · ".join(your_pet(lang, p, card) for p in result.pets)
        if result.subject == "pet":
            lines.append(text(lang, "album_pet", number=number, parts=parts))
        elif len(result.faces) > 1:
            lines.append(text(lang, "album_faces", number=number, parts=parts, faces=len(result.faces)))
        else:
            lines.append(text(lang, "album_line", number=number, parts=parts))
    counted = sum(1 for r in results if r is not None and r.headline is not None)
    _, percents, order = parts_of(lang, verdict, card)
    tail = ["", album_verdict(lang, verdict, counted, card, name), bars(percents, order, card)]
    if history is not None and history.count >= 2:
        tail.append(history_line(lang, history, card))
    return fit("\n".join(lines + tail), limit, keep_last=len(tail))


def album_verdict(lang: str, verdict, count: int, card, name: str | None = None) -> str:
    """ "Ann, over 4 photos: 68% puppy, 32% kitty"."""
    parts = parts_of(lang, verdict, card)[0]
    return text(lang, "album_verdict_named" if name else "album_verdict", name=name, n=count, parts=parts)


def one_line(lang: str, result, card, caption: str, player=None) -> str:
    """An answer in one line, for a group's merged message: the caption's first line names the
    player for one face or a pet; several faces get each face's share."""
    if result.subject == "pet" or len(result.faces) == 1:
        return caption.splitlines()[0]
    faces = " · ".join(f"{i}. {parts_of(lang, f.prediction, card)[0]}" for i, f in enumerate(result.faces, 1))
    return f"{player.first_name}: {faces}" if player else faces


def clip_message(lang: str, clip, card, name: str | None = None, history=None, limit: int = CAPTION_LIMIT) -> str:
    """ "🎞 over 12 frames: you are 71% puppy, 29% kitty", bars, how far single frames ranged, and
    the running answer over the user's selfies."""
    result = clip.result
    body = selfie_message(lang, result, card, name, history, MESSAGE_LIMIT)
    head, rest = body.split("\n", 1)
    lines = [text(lang, "clip_person", n=clip.agreeing, head=head), rest]
    top = result.headline.label
    if len(clip.per_frame) > 1:
        low, high = round(100 * min(clip.per_frame)), round(100 * max(clip.per_frame))
        lines.append(text(lang, "clip_range", low=low, high=high, name=label_name(lang, top, card)))
    return fit("\n".join(lines), limit)
