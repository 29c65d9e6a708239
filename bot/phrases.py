"""What the bot says, per language (English is the fallback), and how a template is filled in.

The functions that put whole answers together from these are in ``bot/texts.py``.
"""

from __future__ import annotations

import re

TEXTS = {
    "en": {
        "names": {"dog": "puppy", "cat": "kitty"},
        "result": "you are {parts}",
        "result_named": "{name}, you are {parts}",
        "start": "Mirror, mirror... send me a selfie and I'll tell you how much puppy 🐶 "
        "and how much kitty 🐱 you are!\n\n"
        "In a group, send a photo with /mirror in the caption, reply /mirror to a photo, or mention me.",
        "help": "Send a selfie (or a photo of your pet). I answer with how much puppy and how much kitty it looks.\n"
        "/me - your answer over all your selfies\n/top - this chat's leaderboard\n/about - the model behind me\n"
        "/privacy - what I keep\n/forgetme - erase everything I keep about you",
        "about": "Model {version} ({backbone}), test accuracy {accuracy} on dogs vs cats photos.\n\n"
        "For a pet, the percentage is how sure the model is that it's a dog or a cat. "
        "For a person, it says where your face falls among people's faces: 50% is the middle, "
        "73% puppy means more dog-like than most. It's a game, not a measurement of anyone.",
        "privacy": "I look at your photo in memory, answer, and forget it. I never store or log photos. "
        "To read a face I describe it in numbers (a face embedding, like face recognition uses): they exist "
        "only while I answer and are never stored, logged or sent; only the percentage made from them is kept.\n\n"
        "What I keep, and how long:\n"
        "• your past answers, numbers only (for /me), until /forgetme\n"
        "• in a group where you play: your best scores and display name (for /top), until /forgetme\n"
        "• each chat's settings (/cards); your private chat's until /forgetme\n"
        "• your last result card: Telegram's file id of the card I sent you, and its caption (for inline "
        "mode), until the next one or /forgetme\n"
        '• a "why?" button: Telegram\'s file id of the photo (not the photo) and who may press it, 7 days\n'
        "• a share link: the answer's numbers only, no photo and no name, 30 days\n"
        "• each message you send me, as Telegram sent it (with your name), until I answer it; then only its "
        "number, your user id and when it came, for a day (so a message Telegram sends twice is answered "
        "once, and turns stay fair)\n"
        "• rate limits: your user id and the times of your latest photos, messages and inline queries, for "
        "at most {window} s\n\n"
        "I score a photo for /top and /me only when its sender asks: /mirror on someone else's photo is "
        "answered, not kept. /forgetme erases all of it except the rate limits (they stop floods, and end by "
        "themselves) and the record of the /forgetme message itself (a day).",
        "pet": "this one is {percent}% {name} {emoji}",
        "pet_named": "{name}, this one is {percent}% {label} {emoji}",
        "breed": "{head} — {a_breed}, I'd say",
        "animals": {"dog": "dog", "cat": "cat"},
        "with_pets": "{who}: {person} · {pets}",
        "you": "you",
        "your_pet": "your {animal}: {percent}% {name} {emoji}",
        "pet_line": "🐾 your {animal}: {percent}% {name} {emoji}",
        "another_pet": "🐾 and another: {percent}% {name} {emoji}",
        "breed_line": "🐾 your {animal} looks like {a_breed}",
        "none": "I can't find a face or a pet here. Send a selfie? 🤳",
        "album_none": "I can't find a face or a pet in these photos. Send a selfie? 🤳",
        "album_header": "📸 {n} photos:",
        "album_line": "{number}. {parts}",
        "album_pet": "{number}. a pet: {parts}",
        "album_faces": "{number}. {parts} (largest of {faces} faces)",
        "album_nothing": "{number}. no face or pet",
        "album_verdict": "Over {n} photos: {parts}",
        "album_verdict_named": "{name}, over {n} photos: {parts}",
        "merged": "🪞 Answers that waited while this chat was busy:",
        "clip_person": "🎞 over {n} frames: {head}",
        "clip_range": "single frames: {low}-{high}% {name}",
        "animated_sticker": "I can't read animated stickers. Send a photo, a video message or a GIF 📸",
        "share_line": "Play too: {link}",
        "share_button": "Share 📣",
        "group_button": "Play in a group 👥",
        "shared_person": "Your friend is {percent}% {name}! What are you? 👀",
        "shared_pet": "Your friend's pet is {percent}% {name}! What are you? 👀",
        "inline_empty": "Send me a selfie first 🤳",
        "history": "📈 you, over {n} selfies: {parts}",
        "history_one": "📈 you, from your one selfie so far: {parts}",
        "me_empty": "I have no answers for you yet. Send me a selfie! 🤳",
        "me_forget": "/forgetme erases them.",
        "forgot": "Done: I erased everything I kept about you ({answers} answers, {entries} leaderboard entries, "
        '{settings} settings) and {others} "why?" buttons, share links and cards.',
        "why_not_yours": "Only the person who sent the photo can ask why 🙂",
        "album_over_limit": "{n} more photos were over your limit: send them again in {seconds} s 🐾",
        "forgot_nothing": "I had nothing kept about you; there is nothing to erase.",
        "hint": "Send me a photo and I'll tell you how puppy or kitty you are 📸",
        "group_hint": "Reply /mirror to a photo, or send a photo with /mirror in the caption.",
        "not_image": "I can read photos, video messages and GIFs. Please send one of those 📸",
        "too_large": "That file is too large for me to fetch (the limit is 20 MB). Please send it as a photo.",
        "unreadable": "I couldn't read that image: {reason}. Try another photo?",
        "error": "Something went wrong, try another photo 🙏",
        "rate_limited": "Whoa, that's a lot of photos! Try again in {seconds} s 🐾",
        "busy": "I'm very busy right now, please try again in a moment ⏳",
        "in_line": "⏳ You're #{place} in line, about {seconds} s",
        "too_late": "So many photos came in that yours waited over {minutes} min. Please send it again in a few "
        "minutes 🙏",
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
        "help": "셀카(또는 반려동물 사진)를 보내 주세요. 강아지상인지 고양이상인지 알려 드려요.\n"
        "/me - 지금까지의 내 결과\n/top - 이 채팅방 순위\n/about - 모델 정보\n/privacy - 개인정보\n"
        "/forgetme - 저장된 내 정보 모두 지우기",
        "about": "모델 {version} ({backbone}), 개·고양이 사진 테스트 정확도 {accuracy}.\n\n"
        "반려동물은 모델이 개인지 고양이인지 얼마나 확신하는지를 나타내요. "
        "사람은 여러 사람의 얼굴 가운데 어디쯤인지를 나타내요: 50%가 가운데이고, "
        "강아지 73%는 대부분보다 강아지상이라는 뜻이에요. 재미로 하는 게임이지, 사람을 재는 것이 아니에요.",
        "privacy": "사진은 메모리에서만 보고 바로 잊어요. 사진을 저장하거나 기록하지 않아요. "
        "얼굴은 숫자로 바꿔서 읽어요(얼굴 인식에 쓰는 얼굴 임베딩): 답하는 동안에만 있고, 저장하거나 기록하거나 "
        "보내지 않아요. 그것으로 만든 퍼센트만 남아요.\n\n"
        "저장하는 것과 기간:\n"
        "• 지난 결과, 숫자만(/me): /forgetme 할 때까지\n"
        "• 참가한 그룹에서의 최고 점수와 표시 이름(/top): /forgetme 할 때까지\n"
        "• 채팅방 설정(/cards): 개인 채팅방 설정은 /forgetme 할 때까지\n"
        "• 마지막 결과 카드: 보내 드린 카드의 텔레그램 파일 ID와 설명(인라인 모드용), 다음 카드나 /forgetme 까지\n"
        '• "왜?" 버튼: 사진의 텔레그램 파일 ID(사진 자체가 아니에요)와 누를 수 있는 사람, 7일\n'
        "• 공유 링크: 결과 숫자만(사진도 이름도 없이), 30일\n"
        "• 보내 주신 메시지: 텔레그램이 보낸 그대로(이름 포함) 답할 때까지. 그 뒤에는 번호, 사용자 ID, 받은 시각만 "
        "하루 동안(같은 메시지가 두 번 와도 한 번만 답하고, 순서를 공평하게 하려고요)\n"
        "• 사용량 제한: 사용자 ID와 최근 사진·메시지·인라인 요청 시각, 최대 {window}초\n\n"
        "사진을 보낸 사람이 직접 요청할 때만 /top 과 /me 에 기록해요: 다른 사람의 사진에 /mirror 를 하면 답만 하고 "
        "저장하지 않아요. /forgetme 로 모두 지울 수 있어요. 단, 사용량 제한(스팸을 막고 저절로 사라져요)과 "
        "/forgetme 메시지 자체의 기록(하루)은 남아요.",
        "pet": "이 친구는 {percent}% {name} {emoji}",
        "pet_named": "{name}님, 이 친구는 {percent}% {label} {emoji}",
        "breed": "{head} — {breed} 같아요",
        "animals": {"dog": "강아지", "cat": "고양이"},
        "with_pets": "{who}: {person} · {pets}",
        "you": "당신",
        "your_pet": "함께 있는 {animal}: {percent}% {name} {emoji}",
        "pet_line": "🐾 함께 있는 {animal}: {percent}% {name} {emoji}",
        "another_pet": "🐾 또 한 친구: {percent}% {name} {emoji}",
        "breed_line": "🐾 {animal}(은)는 {breed} 같아요",
        "none": "얼굴도 반려동물도 찾지 못했어요. 셀카를 보내 주시겠어요? 🤳",
        "album_none": "이 사진들에서 얼굴도 반려동물도 찾지 못했어요. 셀카를 보내 주시겠어요? 🤳",
        "album_header": "📸 사진 {n}장:",
        "album_line": "{number}. {parts}",
        "album_pet": "{number}. 반려동물: {parts}",
        "album_faces": "{number}. {parts} (얼굴 {faces}개 중 가장 큰 얼굴)",
        "album_nothing": "{number}. 얼굴도 반려동물도 없음",
        "album_verdict": "사진 {n}장 종합: {parts}",
        "album_verdict_named": "{name}님, 사진 {n}장 종합: {parts}",
        "merged": "🪞 채팅방이 붐비는 동안 기다린 결과예요:",
        "clip_person": "🎞 {n}프레임 종합: {head}",
        "clip_range": "프레임별: {name} {low}-{high}%",
        "animated_sticker": "움직이는 스티커는 읽을 수 없어요. 사진, 영상 메시지, GIF를 보내 주세요 📸",
        "share_line": "같이 해 보세요: {link}",
        "share_button": "공유하기 📣",
        "group_button": "그룹에서 하기 👥",
        "shared_person": "친구는 {percent}% {name}상이에요! 당신은요? 👀",
        "shared_pet": "친구의 반려동물은 {percent}% {name}(이)에요! 당신은요? 👀",
        "inline_empty": "먼저 셀카를 보내 주세요 🤳",
        "history": "📈 지금까지 셀카 {n}장: {parts}",
        "history_one": "📈 지금까지 셀카 1장: {parts}",
        "me_empty": "아직 결과가 없어요. 셀카를 보내 주세요! 🤳",
        "me_forget": "/forgetme 로 지울 수 있어요.",
        "forgot": "저장된 정보를 모두 지웠어요 (결과 {answers}개, 순위 {entries}개, 설정 {settings}개, "
        '"왜?" 버튼·공유 링크·카드 {others}개).',
        "why_not_yours": "사진을 보낸 사람만 왜? 를 볼 수 있어요 🙂",
        "album_over_limit": "사진 {n}장은 한도를 넘었어요. {seconds}초 후에 다시 보내 주세요 🐾",
        "forgot_nothing": "저장된 정보가 없어서 지울 것이 없어요.",
        "hint": "사진을 보내 주시면 강아지상인지 고양이상인지 알려 드릴게요 📸",
        "group_hint": "사진에 /mirror 로 답장하거나, 사진 설명에 /mirror 를 써 주세요.",
        "not_image": "사진, 영상 메시지, GIF를 읽을 수 있어요. 그중 하나를 보내 주세요 📸",
        "too_large": "파일이 너무 커서 받을 수 없어요 (최대 20 MB). 사진으로 보내 주세요.",
        "unreadable": "이미지를 읽을 수 없어요 ({reason}). 다른 사진을 보내 주시겠어요?",
        "error": "문제가 생겼어요. 다른 사진으로 해 주세요 🙏",
        "rate_limited": "사진이 너무 많아요! {seconds}초 후에 다시 해 주세요 🐾",
        "busy": "지금 너무 바빠요. 잠시 후에 다시 해 주세요 ⏳",
        "in_line": "⏳ {place}번째로 기다리고 있어요, 약 {seconds}초",
        "too_late": "사진이 너무 많이 와서 {minutes}분 넘게 기다렸어요. 몇 분 뒤에 다시 보내 주세요 🙏",
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

# Korean particles that change with the word before them, written after a placeholder as "{animal}(은)는":
# the first form after a final consonant (batchim), the second after a vowel; after anything but Hangul
# the template's neutral "(은)는" stays, as Korean writes it when it cannot tell
PARTICLES = {"(은)는": ("은", "는"), "(이)가": ("이", "가"), "(을)를": ("을", "를"), "(과)와": ("과", "와")}
PARTICLES["(이)에요"] = ("이에요", "예요")
_PARTICLE = re.compile(r"\{(\w+)\}(" + "|".join(re.escape(p) for p in PARTICLES) + ")")


def language(code: str | None) -> str:
    code = (code or "").lower().split("-")[0]
    return code if code in TEXTS else "en"


def text(lang: str, key: str, **kwargs) -> str:
    template = TEXTS[language(lang)].get(key) or TEXTS["en"][key]
    if ")" in template:  # a Korean particle, said as the word put before it needs
        template = _PARTICLE.sub(lambda m: "{" + m[1] + "}" + particle(str(kwargs.get(m[1], "")), m[2]), template)
    return template.format(**kwargs)


def particle(word: str, pair: str) -> str:
    """The form of Korean particle ``pair`` ("(이)가") that follows ``word``: "고양이" -> "가", "샴" -> "이"."""
    last = word.rstrip()[-1:]
    if not "가" <= last <= "힣":  # not a Hangul syllable: the neutral form
        return pair
    after_consonant, after_vowel = PARTICLES[pair]
    return after_consonant if (ord(last) - ord("가")) % 28 else after_vowel
