"""What the bot says, per language. English is the fallback."""

from __future__ import annotations

TEXTS = {
    "en": {
        "names": {"dog": "puppy", "cat": "kitty"},
        "result": "you are {parts}",
        "result_named": "{name}, you are {parts}",
        "start": "Mirror, mirror... send me a selfie and I'll tell you how much puppy 🐶 "
        "and how much kitty 🐱 you are!\n\n"
        "In a group, send a photo with /mirror in the caption, reply /mirror to a photo, or mention me.",
        "help": "Send a photo (or an image file). I answer with how much puppy and how much kitty it looks.\n"
        "/top - this chat's leaderboard\n/about - the model behind me\n/privacy - what I keep",
        "about": "Model {version} ({backbone}), test accuracy {accuracy} on dogs vs cats photos.",
        "privacy": "I look at your photo in memory, answer, and forget it. I never store or log photos. "
        "In groups I keep only each player's best score and display name for /top.",
        "hint": "Send me a photo and I'll tell you how puppy or kitty you are 📸",
        "group_hint": "Reply /mirror to a photo, or send a photo with /mirror in the caption.",
        "not_image": "I can only read photos. Please send a picture (JPEG or PNG) 📸",
        "too_large": "That file is too large for me to fetch (the limit is 20 MB). Please send it as a photo.",
        "unreadable": "I couldn't read that image: {reason}. Try another photo?",
        "error": "Something went wrong, try another photo 🙏",
        "rate_limited": "Whoa, that's a lot of photos! Try again in {seconds} s 🐾",
        "busy": "I'm very busy right now, please try again in a moment ⏳",
        "top_empty": "No scores in this chat yet. Play with /mirror on a photo!",
        "top_title": "🏆 Leaderboard",
        "top_line": "{rank}. {name}: {percent}%",
        "top_most": "Most {name}",
        "faces_header": "I see {n} faces, left to right:",
        "face_line": "{number}. {parts}",
        "verdict": "The most {name} one is {position} {emoji}",
        "pos_left": "on the left",
        "pos_right": "on the right",
        "pos_middle": "in the middle",
        "pos_nth": "number {number} from the left",
        "no_face": "(I found no face, so I looked at the whole photo)",
        "why_button": "why? 🔍",
        "why_caption": "Orange: looked {plus}. Blue: looked {minus}.",
        "why_expired": "I no longer have that photo's address; send it again and tap why? on the new answer.",
        "cards_on": "I'll answer with a picture card 🖼",
        "cards_off": "I'll answer with text only ✍️",
        "cards_usage": "Use /cards on or /cards off",
        "admins_only": "Only the bot's admins can do that.",
    },
    "ko": {
        "names": {"dog": "강아지", "cat": "고양이"},
        "result": "당신은 {parts}",
        "result_named": "{name}님은 {parts}",
        "start": "거울아, 거울아... 셀카를 보내 주시면 얼마나 강아지 🐶 같고 얼마나 고양이 🐱 같은지 알려 드릴게요!\n\n"
        "그룹에서는 사진 설명에 /mirror 를 쓰거나, 사진에 /mirror 로 답장하거나, 저를 멘션하세요.",
        "help": "사진(또는 이미지 파일)을 보내 주세요. 강아지상인지 고양이상인지 알려 드려요.\n"
        "/top - 이 채팅방 순위\n/about - 모델 정보\n/privacy - 개인정보",
        "about": "모델 {version} ({backbone}), 개·고양이 사진 테스트 정확도 {accuracy}.",
        "privacy": "사진은 메모리에서만 보고 바로 잊어요. 사진을 저장하거나 기록하지 않아요. "
        "그룹에서는 /top 을 위해 참가자의 최고 점수와 이름만 저장해요.",
        "hint": "사진을 보내 주시면 강아지상인지 고양이상인지 알려 드릴게요 📸",
        "group_hint": "사진에 /mirror 로 답장하거나, 사진 설명에 /mirror 를 써 주세요.",
        "not_image": "사진만 읽을 수 있어요. 사진(JPEG 또는 PNG)을 보내 주세요 📸",
        "too_large": "파일이 너무 커서 받을 수 없어요 (최대 20 MB). 사진으로 보내 주세요.",
        "unreadable": "이미지를 읽을 수 없어요 ({reason}). 다른 사진을 보내 주시겠어요?",
        "error": "문제가 생겼어요. 다른 사진으로 해 주세요 🙏",
        "rate_limited": "사진이 너무 많아요! {seconds}초 후에 다시 해 주세요 🐾",
        "busy": "지금 너무 바빠요. 잠시 후에 다시 해 주세요 ⏳",
        "top_empty": "아직 이 채팅방에 점수가 없어요. 사진에 /mirror 로 놀아 보세요!",
        "top_title": "🏆 순위",
        "top_line": "{rank}. {name}: {percent}%",
        "top_most": "가장 {name}상",
        "faces_header": "얼굴이 {n}개 보여요 (왼쪽부터):",
        "face_line": "{number}. {parts}",
        "verdict": "가장 {name}상은 {position} {emoji}",
        "pos_left": "왼쪽이에요",
        "pos_right": "오른쪽이에요",
        "pos_middle": "가운데예요",
        "pos_nth": "왼쪽에서 {number}번째예요",
        "no_face": "(얼굴을 찾지 못해서 사진 전체를 봤어요)",
        "why_button": "왜? 🔍",
        "why_caption": "주황색: {plus} 같은 부분. 파란색: {minus} 같은 부분.",
        "why_expired": "그 사진은 더 이상 볼 수 없어요. 다시 보내 주시고 새 답의 왜? 를 눌러 주세요.",
        "cards_on": "사진 카드로 답할게요 🖼",
        "cards_off": "글로만 답할게요 ✍️",
        "cards_usage": "/cards on 또는 /cards off 를 써 주세요",
        "admins_only": "봇 관리자만 할 수 있어요.",
    },
}
EMOJI = {"dog": "🐶", "cat": "🐱"}


def language(code: str | None) -> str:
    code = (code or "").lower().split("-")[0]
    return code if code in TEXTS else "en"


def text(lang: str, key: str, **kwargs) -> str:
    template = TEXTS[language(lang)].get(key) or TEXTS["en"][key]
    return template.format(**kwargs)


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
    bars = "\n".join(f"{EMOJI.get(l, card.emoji.get(l, '•'))} {bar(percents[l])} {percents[l]}%" for l in order)
    return f"{head}\n{bars}"


def selfie_message(lang: str, result, card, name: str | None = None) -> str:
    """One face (or none): the classic answer. Several: a line per face and who is most puppy."""
    faces = result.faces
    if len(faces) == 1:
        body = result_message(lang, faces[0].prediction, card, name)
        return body if result.faces_found else f"{body}\n{text(lang, 'no_face')}"
    lines = [text(lang, "faces_header", n=len(faces))]
    lines += [
        text(lang, "face_line", number=i + 1, parts=parts_of(lang, f.prediction, card)[0]) for i, f in enumerate(faces)
    ]
    top_label = "dog" if "dog" in card.labels else card.labels[-1]
    lines.append(
        text(
            lang,
            "verdict",
            name=label_name(lang, top_label, card),
            position=position(lang, result.most(top_label), len(faces)),
            emoji=EMOJI.get(top_label, ""),
        ).rstrip()
    )
    return "\n".join(lines)
