"""Safe in public: consent, "why?" for its owner only, /forgetme held to /privacy on both stores,
abuse limits, and Telegram's lengths. The real bot against the fake Bot API over real HTTP."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from bot.texts import CAPTION_LIMIT, MESSAGE_LIMIT, fit, telegram_len
from classifier.selfie import Pet
from tests import test_bot
from tests.test_bot import GROUP, Harness, body, photo_bytes, private, reply_in, send_album, send_photo, user

fake = test_bot.fake  # the fake Bot API, as a fixture here too


def command(fake, chat, who, line, **extra):
    entities = [{"type": "bot_command", "offset": 0, "length": len(line.split()[0])}]
    return fake.message(chat, who, text=line, entities=entities, **extra)


def crowded(monkeypatch, faces: int = 0, pets: int = 0):
    """Every photo scored as it is, then given ``faces`` more faces and ``pets`` pets beside them."""
    from bot.scoring import Scorer

    score = Scorer.score

    async def more(self, image):
        result = await score(self, image)
        if not result.faces:
            return result
        face = result.faces[0]
        extra = [
            dataclasses.replace(face, box=dataclasses.replace(face.box, x=face.box.x + i + 1)) for i in range(faces)
        ]
        beside = [Pet(None, face.prediction) for _ in range(pets)]
        return dataclasses.replace(result, faces=result.faces + extra, pets=result.pets + beside)

    monkeypatch.setattr(Scorer, "score", more)


# -- Telegram's lengths -----------------------------------------------------------------------------
def test_fit_keeps_whole_lines_and_the_verdict_within_telegrams_count():
    lines = [f"{i}. 50% puppy 🐶 · your dog: 97% puppy 🐶" for i in range(100)]
    long = "\n".join(["📸 100 photos:", *lines, "", "Over 100 photos: 50% puppy", "🐶 █████░░░░░ 50%"])
    short = fit(long, CAPTION_LIMIT, keep_last=3)
    assert telegram_len(short) <= CAPTION_LIMIT < len(long)
    assert short.startswith("📸 100 photos:\n0. ") and short.endswith(
        "\n…\n\nOver 100 photos: 50% puppy\n🐶 █████░░░░░ 50%"
    )
    assert all(line in lines or line in long.splitlines() for line in short.splitlines() if line != "…")
    assert fit("🐶" * 600, CAPTION_LIMIT) == "🐶" * 511 + "…"  # an emoji counts two, as Telegram counts
    assert fit("short", CAPTION_LIMIT) == "short"


async def test_an_album_whose_caption_would_be_too_long_is_sent_within_1024(
    fake, tiny_classifier, tmp_path, monkeypatch
):
    """Ten photos, each a face with nine pets beside it: ~2,500 characters of caption, which Telegram
    (and the fake Bot API) refuse with a 400; the answer comes, fitted, with the album's verdict."""
    crowded(monkeypatch, pets=9)
    async with Harness(fake, tiny_classifier, tmp_path):
        await send_album(fake, private(400), user(400), [photo_bytes(i) for i in range(10)], group_id="pets")
        (answer,) = await reply_in(fake, 400, timeout=60)
    caption = body(answer)
    assert answer.method == "sendPhoto" and telegram_len(caption) <= CAPTION_LIMIT
    assert caption.startswith("📸 10 photos:\n1. ") and "\n…\n" in caption and "Over 10 photos: " in caption


async def test_a_busy_groups_merged_answers_leave_as_messages_within_4096(fake, tiny_classifier, tmp_path, monkeypatch):
    """Crowd photos (60 faces: a ~1,700-character line each) waiting in a busy group's outbox: merged
    into several messages, none over Telegram's 4,096, every answer in one of them."""
    crowded(monkeypatch, faces=59)
    players = [user(410 + i, f"P{i}") for i in range(8)]
    async with Harness(fake, tiny_classifier, tmp_path, group_messages=2, group_period_s=3.0):
        for i, player in enumerate(players):
            await send_photo(fake, GROUP, player, photo_bytes(i), caption="/mirror")

        def all_answered(_):
            replies = fake.replies_to(GROUP["id"])
            merged = sum(body(r).count("\n• ") for r in replies if body(r).startswith("🪞"))
            return merged + sum(not body(r).startswith("🪞") for r in replies) >= len(players)

        await fake.wait_sent(all_answered, timeout=90)
        await asyncio.sleep(0.5)
    replies = fake.replies_to(GROUP["id"])
    merged = [r for r in replies if body(r).startswith("🪞")]
    assert len(merged) >= 2 and all(telegram_len(body(r)) <= MESSAGE_LIMIT for r in merged)
    assert all(telegram_len(body(r)) <= CAPTION_LIMIT for r in replies if r.method == "sendPhoto")
    assert sum(body(r).count("\n• ") for r in merged) + len(replies) - len(merged) == len(players)
    assert not [s for s in fake.sent if body(s).startswith("Something went wrong")]


@pytest.mark.parametrize("method,field,limit", [("sendMessage", "text", 4096), ("sendPhoto", "caption", 1024)])
async def test_the_fake_api_refuses_what_telegram_refuses(fake, method, field, limit):
    import aiohttp

    url = f"{fake.api_base_url}{fake.token}/{method}"
    async with aiohttp.ClientSession() as session:
        for length, status in ((limit, 200), (limit + 1, 400)):
            params = {"chat_id": 5, field: "x" * (length - 2) + "🐶"}  # an emoji counts two
            if method == "sendPhoto":
                params["photo"] = "none"
            async with session.post(url, json=params) as r:
                answer = await r.json()
            assert r.status == status, answer
    too_long = "message is too long" if method == "sendMessage" else "message caption is too long"
    assert answer["description"] == f"Bad Request: {too_long}"


def with_why(sent) -> bool:
    rows = (sent.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return any(b.get("callback_data", "").startswith("why:") for row in rows for b in row)


def why_press(fake, who: dict, answer, query_id: str):
    data = next(b["callback_data"] for row in answer.params["reply_markup"]["inline_keyboard"] for b in row)
    return fake.push(
        callback_query={"id": query_id, "from": who, "chat_instance": "c", "data": data, "message": answer.message}
    )


def callback_answers(fake) -> None:
    """Record the bot's answerCallbackQuery calls in ``fake.sent`` (an alert is shown to its presser only)."""
    from bot.playground.fakeapi import Sent

    async def answered(params):
        async with fake._new_sent:
            fake.sent.append(Sent("answerCallbackQuery", params))
            fake._new_sent.notify_all()
        return True

    fake._m_answerCallbackQuery = answered


# -- consent --------------------------------------------------------------------------------------
async def test_mirror_on_someone_elses_photo_answers_it_and_keeps_nothing(fake, tiny_classifier, tmp_path):
    """Ann replies /mirror (or mentions the bot) to Bob's photo: Bob's photo is answered, named for
    him, but no score, history, "why?" key or anything else is kept about anyone, and Ann's rate
    limit pays for it. Bob asking for his own photo is scored as before."""
    from tests.test_bot import BOT_USER, bot_store_at

    ann, bob, cid = user(501, "Ann"), user(502, "Bob"), GROUP["id"]
    async with Harness(fake, tiny_classifier, tmp_path, rate_limit=2):
        plain = await send_photo(fake, GROUP, bob, photo_bytes(1))
        await fake.push(command(fake, GROUP, ann, "/mirror", reply_to_message=plain))
        (first,) = await reply_in(fake, cid)
        mention = "@" + BOT_USER["username"]
        entities = [{"type": "mention", "offset": 0, "length": len(mention)}]
        await fake.push(fake.message(GROUP, ann, text=mention, entities=entities, reply_to_message=plain))
        second = (await reply_in(fake, cid, 2))[1]
        assert body(first).startswith("Bob, you are ") and body(second).startswith("Bob, you are ")
        assert not with_why(first) and not with_why(second)
        await fake.push(command(fake, GROUP, ann, "/mirror", reply_to_message=plain))  # Ann's third: her limit
        assert "Try again in" in body((await reply_in(fake, cid, 3))[2])
        store = bot_store_at(tmp_path)
        assert await store.top(cid, "dog") == [] and (await store.history(502)).empty
        assert (await store.history(501)).empty
        await store.close()
        await fake.push(command(fake, GROUP, bob, "/mirror", reply_to_message=plain))  # Bob asks himself
        own = (await reply_in(fake, cid, 4))[3]
        assert body(own).startswith("Bob, you are ") and with_why(own)
    store = bot_store_at(tmp_path)
    assert [name for name, _ in await store.top(cid, "dog")] == ["Bob Lee"] and (await store.history(502)).count == 1
    await store.close()


# -- "why?" for its owner only ---------------------------------------------------------------------
async def test_why_answers_only_the_photos_sender(fake, tiny_classifier, tmp_path):
    """Bob pressing "why?" under Ann's answer gets an alert only he sees, and the group nothing; Ann
    gets her heat map. A key kept before owners were (a bare file id) counts as expired."""
    from tests.test_bot import bot_store_at

    old = bot_store_at(tmp_path)
    await old.remember("old-key", "AgACAgIAAxkBAAIBare-file-id")
    await old.close()
    callback_answers(fake)
    ann, bob, cid = user(511, "Ann"), user(512, "Bob"), GROUP["id"]
    async with Harness(fake, tiny_classifier, tmp_path):
        await send_photo(fake, GROUP, ann, photo_bytes(2), caption="/mirror")
        (answer,) = await reply_in(fake, cid)
        await why_press(fake, bob, answer, "cb-bob")
        (alert,) = await fake.wait_sent(lambda s: s.method == "answerCallbackQuery")
        assert alert.params["callback_query_id"] == "cb-bob" and alert.params["show_alert"] in (True, "true")
        assert alert.params["text"] == "Only the person who sent the photo can ask why 🙂"
        await asyncio.sleep(1.0)
        assert len(fake.replies_to(cid)) == 1  # nothing in the chat
        await why_press(fake, ann, answer, "cb-ann")
        heat = (await reply_in(fake, cid, 2))[1]
        assert heat.method == "sendPhoto" and body(heat).startswith("Orange: looked puppy")
        stale = fake.message(private(513), user(513), text="x")
        query = {"id": "cb-old", "from": user(513), "chat_instance": "c", "data": "why:old-key", "message": stale}
        await fake.push(callback_query=query)
        await fake.push(callback_query={**query, "id": "cb-old-again"})  # pressed again: no second message
        assert "send it again" in body((await reply_in(fake, 513))[0])
        await asyncio.sleep(1.0)
        assert len(fake.replies_to(513)) == 1


# -- /forgetme, held to /privacy --------------------------------------------------------------------
ZED = 73310991  # a user id no timestamp or counter in the store is likely to contain
ZED_NAMES = ("Zelda", "Quokka")
RATE_LIMITS = ("hits:", "sent:", "claims:")  # Redis: the rate limits and Telegram's flood windows


def sqlite_mentions(path, needles) -> list[tuple]:
    import sqlite3

    db = sqlite3.connect(path / "mirror.sqlite3")
    found = []
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for row in db.execute(f"SELECT * FROM {table}"):  # noqa: S608 - the file's own table names
            if any(n in str(value) for value in row for n in needles):
                found.append((table, row))
    db.close()
    return found


def redis_mentions(url, needles) -> list[tuple]:
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    read = {
        "string": client.get,
        "hash": client.hgetall,
        "set": client.smembers,
        "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
        "list": lambda k: client.lrange(k, 0, -1),
        "stream": client.xrange,
    }
    found = []
    for key in client.scan_iter(count=1000):
        contents = read[client.type(key)](key)
        if any(n in key or n in str(contents) for n in needles):
            found.append((key, contents))
    client.close()
    return found


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.slow)])
async def test_forgetme_leaves_nothing_but_rate_limits_as_privacy_says(
    fake, tiny_classifier, tmp_path, request, backend
):
    """A user plays every way (a private photo and album, a group photo, "why?", a share link, /me,
    /cards, inline mode, a hint; a friend's /mirror on their photo), then /forgetme: nothing in the
    store, key by key and row by row, names their id or name but the rate limits /privacy says stay,
    and the record of the /forgetme message itself."""
    url = request.getfixturevalue("redis_url") if backend == "redis" else None
    zed, friend, cid = user(ZED, "Zelda", lang="en"), user(ZED + 1, "Friend"), GROUP["id"]
    zed["last_name"] = "Quokka"
    chat = {**private(ZED), "first_name": "Zelda", "last_name": "Quokka"}
    callback_answers(fake)
    async with Harness(fake, tiny_classifier, tmp_path, redis_url=url):
        await send_photo(fake, chat, zed, photo_bytes(1))
        (mine,) = await reply_in(fake, ZED)
        assert with_why(mine) and "start=r" in body(mine)
        await send_album(fake, chat, zed, [photo_bytes(2), photo_bytes(3)], group_id="zed-album")
        await reply_in(fake, ZED, 2)
        group_photo = await send_photo(fake, GROUP, zed, photo_bytes(4), caption="/mirror")
        await reply_in(fake, cid)
        await fake.push(command(fake, GROUP, friend, "/mirror", reply_to_message=group_photo))
        await reply_in(fake, cid, 2)
        await why_press(fake, zed, mine, "cb-zed")
        await reply_in(fake, ZED, 3)
        for line in ("/me", "/cards off", "/privacy"):
            await fake.push(command(fake, chat, zed, line))
        await fake.push(fake.message(chat, zed, text="hello"))
        await fake.push(inline_query={"id": "iq", "from": zed, "query": "", "offset": ""})
        said = await reply_in(fake, ZED, 7)
        await fake.wait_sent(lambda s: s.method == "answerInlineQuery")
        privacy = next(body(s) for s in said if "What I keep" in body(s))
        for kept in ("/me", "/top", "/cards", "inline mode", '"why?"', "7 days", "share link", "30 days"):
            assert kept in privacy
        assert "until I answer it" in privacy and "rate limits" in privacy and "except the rate limits" in privacy
        before = sqlite_mentions(tmp_path, [str(ZED)]) if url is None else redis_mentions(url, [str(ZED)])
        assert before  # there was something to forget
        forget = await fake.push(command(fake, chat, zed, "/forgetme"))
        gone = body((await reply_in(fake, ZED, 8))[7])
        assert "(4 answers, 1 leaderboard entries, 1 settings) and 4 " in gone, gone  # 2 why, 1 link, 1 card
    needles = [str(ZED), *ZED_NAMES]
    if url is None:
        left = sqlite_mentions(tmp_path, needles)
        limits = [row for table, row in left if table == "hits"]
        record = [row for table, row in left if table == "updates"]
        assert limits and [(r[0], r[4]) for r in record] == [(forget, None)]  # its id and user, no payload
        assert [t for t, _ in left if t not in ("hits", "updates")] == []
    else:
        left = redis_mentions(url, needles)
        assert any(key.startswith("mm:hits:") for key, _ in left)
        assert [key for key, _ in left if not key.removeprefix("mm:").startswith(RATE_LIMITS)] == []


# -- abuse limits -----------------------------------------------------------------------------------
async def test_an_album_spends_a_hit_per_photo_and_forgetme_resets_no_limit(fake, tiny_classifier, tmp_path):
    """An album of five against a limit of three: three answered, the other two told to wait (an
    album counted as one photo let ten through per hit). /forgetme leaves the limit spent."""
    async with Harness(fake, tiny_classifier, tmp_path, rate_limit=3):
        await send_album(fake, private(520), user(520), [photo_bytes(i) for i in range(5)], group_id="five")
        (answer,) = await reply_in(fake, 520)
        assert body(answer).startswith("📸 3 photos:") and "2 more photos were over your limit" in body(answer)
        await fake.push(command(fake, private(520), user(520), "/forgetme"))
        assert "erased everything" in body((await reply_in(fake, 520, 2))[1])
        await send_photo(fake, private(520), user(520), photo_bytes(9))
        assert "Try again in" in body((await reply_in(fake, 520, 3))[2])


async def test_a_group_has_its_own_budget_whoever_sends(fake, tiny_classifier, tmp_path):
    async with Harness(fake, tiny_classifier, tmp_path, group_rate_limit=2):
        for i in range(3):  # three players, each well within their own limit
            await send_photo(fake, GROUP, user(530 + i, f"P{i}"), photo_bytes(i), caption="/mirror")
            await reply_in(fake, GROUP["id"], i + 1)
        await send_photo(fake, private(533), user(533), photo_bytes(5))  # a private chat is not the group's
        (alone,) = await reply_in(fake, 533)
    replies = [body(r) for r in fake.replies_to(GROUP["id"])]
    assert [r.split(",")[0] for r in replies[:2]] == ["P0", "P1"] and "Try again in" in replies[2]
    assert body(alone).startswith("you are ")


async def test_a_flood_of_text_gets_one_hint_and_every_update_is_recorded_answered(fake, tiny_classifier, tmp_path):
    """Ten texts at once: one hint, the rest silently recorded as answered (none left to answer after a
    restart); after the interval, a hint again. Inline queries over their window are left unanswered."""
    from tests.test_bot import bot_store_at

    async with Harness(fake, tiny_classifier, tmp_path, note_interval_s=1.5, inline_rate_limit=2):
        for i in range(10):
            await fake.push(fake.message(private(540), user(540), text=f"hi {i}"))
        await reply_in(fake, 540)
        for i in range(4):
            await fake.push(inline_query={"id": f"q{i}", "from": user(540), "query": "", "offset": ""})
        await fake.wait_sent(lambda s: s.method == "answerInlineQuery", count=2)
        await asyncio.sleep(1.5)
        assert len(fake.replies_to(540)) == 1
        assert len([s for s in fake.sent if s.method == "answerInlineQuery"]) == 2
        await fake.push(fake.message(private(540), user(540), text="still there?"))
        assert "Send me a photo" in body((await reply_in(fake, 540, 2))[1])
    store = bot_store_at(tmp_path)
    assert await store.queued() == 0 and await store.recover() == 0  # all 15 recorded as answered
    await store.close()
