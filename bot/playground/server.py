"""python -m bot --playground: the real bot, a local Bot API and a chat page, all on 127.0.0.1.

No token and no network: the bot code runs unchanged against ``FakeBotAPI`` through the two
base-URL settings, and the page plays the Telegram app (a private chat, and a group with several
members). Maintainers use it to see a newly trained model in the real bot before anyone else.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from aiohttp import web

from .fakeapi import BOT_USER, FakeBotAPI

PAGE = Path(__file__).with_name("playground.html")
MEMBERS = {"Ann": 1001, "Bob": 1002, "Chloe": 1003}
GROUP = {"id": -4200, "type": "supergroup", "title": "Mirror Mirror playground"}


class Playground:
    def __init__(self, fake: FakeBotAPI):
        self.fake = fake

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.local(self.page))
        app.router.add_post("/play/send", self.local(self.send))
        app.router.add_post("/play/button", self.local(self.button))
        app.router.add_get("/play/events", self.local(self.events))
        app.router.add_get("/play/file/{file_id}", self.local(self.file))

    @staticmethod
    def local(handler):
        """Only the page itself: a Host other than this machine's is a DNS-rebound name, and a
        browser's Origin other than the page's is another website posting into the playground."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            port = request.url.port
            mine = {f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}
            origin = request.headers.get("Origin")
            if request.host not in mine or (origin is not None and origin.removeprefix("http://") not in mine):
                return web.Response(status=403, text="the playground answers only its own page on this machine")
            return await handler(request)

        return guarded

    @staticmethod
    def who(chat: str, member: str) -> tuple[dict, dict]:
        uid = MEMBERS.get(member, 1001)
        user = {"id": uid, "is_bot": False, "first_name": member if member in MEMBERS else "Ann", "language_code": "en"}
        chat_obj = GROUP if chat == "group" else {"id": uid, "type": "private", "first_name": user["first_name"]}
        return chat_obj, user

    async def page(self, request: web.Request) -> web.Response:
        return web.FileResponse(PAGE)

    async def send(self, request: web.Request) -> web.Response:
        """A member sends a text, a photo/file with an optional caption, a video (as a round video
        message) or a GIF; "@bot ..." asks the bot inline, as typing it in any chat does."""
        form = await request.post()
        chat, user = self.who(form.get("chat", "private"), form.get("member", "Ann"))
        language = form.get("language") or "en"
        user["language_code"] = language
        fields, text = {}, (form.get("text") or "").strip()
        upload = form.get("file")
        mention = "@" + BOT_USER["username"]
        if upload is None and text.split(" ")[0].lower() == mention:
            query_id = f"iq-{len(self.fake.sent)}-{user['id']}"
            inline = {"id": query_id, "from": user, "query": text[len(mention) :].strip(), "offset": ""}
            await self.fake.push(inline_query=inline)
            return web.json_response({"inline_query": query_id})
        if upload is not None and hasattr(upload, "file"):
            content = upload.file.read()
            mime = upload.content_type or "application/octet-stream"
            if mime in ("image/jpeg", "image/png"):
                fields["photo"] = self.fake.photo_sizes(content)
            elif mime.startswith("video/"):  # the round video message a phone records
                fields["video_note"] = self.fake.media(content, length=384, duration=3)
            elif mime == "image/gif":  # Telegram turns a GIF into an animation
                entry = self.fake.media(content, mime_type=mime, file_name=upload.filename)
                fields["animation"] = {**entry, "width": 384, "height": 384, "duration": 3}
                fields["document"] = entry
            else:
                file_id = self.fake.add_file(content)
                fields["document"] = {
                    "file_id": file_id,
                    "file_unique_id": file_id,
                    "mime_type": mime,
                    "file_name": upload.filename,
                    "file_size": len(content),
                }
            if text:
                fields["caption"] = text
                fields["caption_entities"] = _entities(text)
        elif text:
            fields["text"] = text
            fields["entities"] = _entities(text)
        else:
            raise web.HTTPBadRequest(text="send a text or a file")
        message = self.fake.message(chat, user, **fields)
        await self.fake.push(message)
        return web.json_response({"message_id": message["message_id"], "chat_id": chat["id"]})

    async def button(self, request: web.Request) -> web.Response:
        body = await request.json()
        chat, user = self.who(body.get("chat", "private"), body.get("member", "Ann"))
        message = next(
            (s.message for s in self.fake.sent if s.message and s.message["message_id"] == body["message_id"]), None
        )
        if message is None:
            raise web.HTTPNotFound(text="no such bot message")
        await self.fake.push(
            callback_query={
                "id": f"cb-{body['message_id']}",
                "from": user,
                "chat_instance": "play",
                "data": body["data"],
                "message": message,
            }
        )
        return web.json_response({"ok": True})

    async def events(self, request: web.Request) -> web.Response:
        """What the bot has sent since index ``after``, as chat bubbles."""
        after = int(request.query.get("after", 0))
        out = []
        for i, sent in enumerate(self.fake.sent[after:], start=after):
            if sent.method == "answerInlineQuery":
                out.append({"index": i, "inline": self._inline(sent.params)})
                continue
            if sent.message is None or sent.method not in ("sendMessage", "sendPhoto"):
                continue
            m, p = sent.message, sent.params
            markup = p.get("reply_markup") or {}
            out.append(
                {
                    "index": i,
                    "chat_id": m["chat"]["id"],
                    "message_id": m["message_id"],
                    "reply_to": m.get("reply_to_message_id"),
                    "text": m.get("text") or m.get("caption") or "",
                    "photo": f"/play/file/{m['photo'][-1]['file_id']}" if m.get("photo") else None,
                    "buttons": [b for row in markup.get("inline_keyboard", []) for b in row],
                }
            )
        return web.json_response({"next": len(self.fake.sent), "events": out})

    @staticmethod
    def _inline(params: dict) -> dict:
        """What the Telegram app shows above the keyboard for an inline query."""
        results = [
            {"photo": f"/play/file/{r['photo_file_id']}", "caption": r.get("caption", "")}
            for r in params.get("results") or []
            if r.get("type") == "photo"
        ]
        button = params.get("button") or {}
        return {"results": results, "button": button.get("text")}

    async def file(self, request: web.Request) -> web.Response:
        entry = self.fake.files.get(request.match_info["file_id"])
        if entry is None:
            raise web.HTTPNotFound()
        return web.Response(body=entry[0], content_type="image/jpeg")


def _entities(text: str) -> list[dict]:
    """Mark a leading /command and @mentions, as the Telegram app does."""
    entities = []
    if text.startswith("/"):
        entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
    offset = 0
    for word in text.split(" "):
        if word.startswith("@") and len(word) > 1:
            entities.append({"type": "mention", "offset": offset, "length": len(word)})
        offset += len(word) + 1
    return entities


async def serve(
    port: int,
    classifier,
    config_overrides: dict | None = None,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    from ..app import run
    from ..config import Config

    fake = FakeBotAPI(token="0:playground")
    playground = Playground(fake)
    await fake.start("127.0.0.1", port, add_routes=playground.routes)
    state_dir = Path(tempfile.mkdtemp(prefix="mirror-playground-"))
    config = Config(
        token=fake.token,
        api_base_url=fake.api_base_url,
        file_base_url=fake.file_base_url,
        state_dir=state_dir,
        **{"rate_limit": 1000, **(config_overrides or {})},  # a maintainer trying many photos is not a flood
    )
    print(
        f"Mirror Mirror playground: open http://127.0.0.1:{fake.port}/  (model {classifier.card.version}; "
        "Ctrl+C to stop)",
        flush=True,
    )
    try:
        await run(config, classifier, stop, ready)
    finally:
        await fake.stop()
