"""A small Telegram Bot API emulator: what python-telegram-bot calls, answered as Telegram would.

Methods: getMe, getUpdates (long poll), setWebhook, deleteWebhook, setMyCommands, sendMessage,
editMessageText, sendPhoto, sendDocument, sendChatAction, getFile, getChatMember,
answerCallbackQuery, and the file download route (``/file/bot<token>/<path>``) for files a user
sent (:meth:`TelegramEmulator.user_sends`). Inline keyboards are kept with their message, and a
user presses a button with :meth:`TelegramEmulator.user_presses`. Once a
bot set a webhook, updates are POSTed to the bot processes behind a proxy instead
(:mod:`tests.emulators.telegram_webhook`; the test names them in ``pusher.backends``).

It records what the bot sent as the chat would show it (``messages``) and every call with its time
(``calls``). Tests can make a method answer 429 with ``retry_after`` or another error, as JSON or as
a proxy's error page (:meth:`TelegramEmulator.fail`), or hold a call until released
(:meth:`TelegramEmulator.hold`).

It refuses what Telegram refuses, with Telegram's texts: text over 4096 and captions over 1024
characters (counted in UTF-16 code units, as Telegram counts), empty text, a photo that is no
image or too large, an edit of an unknown message, and an edit that changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image, UnidentifiedImageError

from tests.emulators import EmulatorServer, json_body
from tests.emulators.telegram_webhook import Hook, WebhookPusher

BOT_USER = {"id": 424242, "is_bot": True, "first_name": "ML jobs", "username": "mljobs_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
DOWNLOAD_LIMIT = 20 * 2**20  # getFile refuses bigger files, as the real Bot API does
JSON_FIELDS = {"reply_parameters", "reply_markup", "commands", "chat_id", "message_id", "offset", "timeout", "limit"}
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
PHOTO_LIMIT = 10 * 2**20
AS_SET = "<the webhook's secret>"  # push(): send the secret the bot set
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)


class Refused(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


@dataclass
class SentMessage:
    """A message of the bot, as the chat shows it now."""

    message_id: int
    chat_id: int
    text: str = ""
    caption: str = ""
    photo: bytes | None = None
    document: bytes | None = None
    filename: str | None = None
    reply_to: int | None = None
    edits: list[str] = field(default_factory=list)  # every text it showed, in order
    buttons: list[tuple[str, str]] = field(default_factory=list)  # its inline keyboard now: (text, callback_data)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() on arrival
    status: int = 200


class TelegramEmulator:
    def __init__(self, token: str) -> None:
        self.token = token
        self.messages: list[SentMessage] = []
        self.calls: list[Call] = []
        self.commands: list[dict[str, str]] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, data) of what users sent
        # Set: a local server (telegram-bot-api --local): getFile has no size limit, writes the file
        # here and answers its absolute path, which the bot reads from disk.
        self.local_dir: Path | None = None
        self._failures: dict[str, list[tuple[int, float, bool]]] = {}
        self._holds: dict[str, threading.Event] = {}
        self._hold_after: dict[str, int] = {}
        self.held: dict[str, threading.Event] = {}  # set when a held call has arrived
        self.admins: dict[int, set[int]] = {}  # group chat id -> its admins' user ids (getChatMember)
        self.callback_answers: dict[str, str] = {}  # callback query id -> the text the bot answered it with
        app = web.Application(client_max_size=60 * 2**20)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self.server = EmulatorServer(app)
        self._new_update: asyncio.Event | None = None
        self._closing = False
        self._poll_generation = 0
        self.webhook: Hook | None = None
        self.pusher = WebhookPusher()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/bot"

    def start(self) -> TelegramEmulator:
        self.server.start()
        self._new_update = self.server.call(self._make_event())
        return self

    def stop(self) -> None:
        self._closing = True  # ends pending long polls and holds, so the server stops at once
        self.server.call(self.pusher.close())
        self.server.soon(self._new_update.set)  # type: ignore[union-attr]
        for gate in list(self._holds.values()):
            gate.set()
        self.server.stop()

    # What a test does.

    def user_says(self, text: str, chat_id: int = 111, user_id: int = 7) -> int:
        """A user's message arrives in the chat; returns its message_id."""
        update = self.message_update(text, chat_id, user_id)
        self._arrive(update)
        return int(update["message"]["message_id"])

    def message_update(self, text: str, chat_id: int = 111, user_id: int = 7) -> dict[str, Any]:
        """The update of a user's message, not sent: for :meth:`push`."""
        message_id = next(self._message_ids)
        command = text.split()[0] if text.startswith("/") else ""
        entities = [{"type": "bot_command", "offset": 0, "length": len(command)}] if command else []
        message = {
            "message_id": message_id, "date": int(time.time()), "text": text, "entities": entities,
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group", "first_name": "Ada"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Ada"},
        }
        return {"update_id": next(self._update_ids), "message": message}

    def user_presses(self, message: SentMessage, label: str, *, user_id: int = 7, data: str | None = None) -> str:
        """A user presses the button ``label`` under the bot's ``message``; returns the callback query's id.

        ``data``: send this callback data instead of the button's (what a modified client can do).
        """
        found = next((d for text, d in message.buttons if text == label), None)
        assert found is not None or data is not None, f"no button {label!r} under message {message.message_id}"
        query_id = f"cb{next(self._update_ids)}"
        query = {
            "id": query_id, "chat_instance": str(message.chat_id), "data": data if data is not None else found,
            "from": {"id": user_id, "is_bot": False, "first_name": "Ada"}, "message": self._payload(message),
        }
        self._arrive({"update_id": next(self._update_ids), "callback_query": query})
        return query_id

    def push(self, update: dict[str, Any], backends: list[str], secret: str | None = AS_SET) -> list[int]:
        """POST one update to each of ``backends`` at once (a retried POST); their HTTP statuses.

        ``secret``: the header's value (default: the webhook's), None for no header.
        """
        hook = self.webhook
        assert hook is not None, "no webhook set"
        token = hook.secret_token if secret is AS_SET else secret

        async def post_all() -> list[int]:
            return list(await asyncio.gather(*(self.pusher.post(hook, update, b, token) for b in backends)))

        return self.server.call(post_all())

    def _arrive(self, update: dict[str, Any]) -> None:
        """A new update: POSTed through the proxy once a webhook is set, else kept for getUpdates."""
        if self.webhook is not None and self.pusher.backends:
            hook = self.webhook
            asyncio.run_coroutine_threadsafe(self.pusher.deliver(hook, update), self.server.loop)
            return
        with self.server.lock:
            self._updates.append(update)
        self.server.soon(self._new_update.set)  # type: ignore[union-attr]

    def user_sends(
        self, kind: str, data: bytes, *, mime_type: str | None = None, file_name: str | None = None,
        caption: str | None = None, chat_id: int = 111, user_id: int = 7, duration: int = 5, sized: bool = True,
    ) -> int:
        """A user sends a file: ``kind`` is voice, audio, video, video_note or document; returns its message_id.

        ``sized=False`` leaves out file_size, which the Bot API marks optional.
        """
        message_id = next(self._message_ids)
        file_id = f"{kind}-file-{message_id}"
        self.files[file_id] = (f"{kind}s/file_{message_id}", data)
        media: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"u{message_id}"}
        if sized:
            media["file_size"] = len(data)
        if kind in {"voice", "audio", "video", "video_note"}:
            media["duration"] = duration
        if kind in {"video", "video_note"}:
            media.update({"width": 240, "height": 240} if kind == "video" else {"length": 240})
        if mime_type is not None:
            media["mime_type"] = mime_type
        if file_name is not None:
            media["file_name"] = file_name
        message: dict[str, Any] = {
            "message_id": message_id, "date": int(time.time()), kind: media,
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group", "first_name": "Ada"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Ada"},
        }
        if caption is not None:
            message["caption"] = caption
            command = caption.split()[0] if caption.startswith("/") else ""
            if command:
                message["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        self._arrive({"update_id": next(self._update_ids), "message": message})
        return message_id

    def fail(
        self, method: str, status: int = 429, retry_after: float = 1, times: int = 1, *, proxy_page: bool = False
    ) -> None:
        """The next ``times`` calls of ``method`` fail (429 answers carry ``retry_after``).

        ``proxy_page``: the answer is not Telegram's JSON but a proxy's error page that names the URL
        it could not forward, bot token and all (what a library then logs is a test of redaction).
        """
        self._failures.setdefault(method, []).extend([(status, retry_after, proxy_page)] * times)

    def hold(self, method: str, after: int = 0) -> None:
        """The call of ``method`` after ``after`` more waits until :meth:`release`; it is then refused (502)."""
        self._holds[method] = threading.Event()
        self._hold_after[method] = after
        self.held[method] = threading.Event()

    def release(self, method: str) -> None:
        self._holds[method].set()

    def chat(self, chat_id: int = 111) -> list[SentMessage]:
        with self.server.lock:
            return [m for m in self.messages if m.chat_id == chat_id]

    def calls_of(self, method: str) -> list[Call]:
        with self.server.lock:
            return [c for c in self.calls if c.method == method]

    # The API.

    async def _make_event(self) -> asyncio.Event:
        return asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return json_body({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, time.monotonic())
        with self.server.lock:
            self.calls.append(call)
        if self._failures.get(method):
            call.status, retry_after, proxy_page = self._failures[method].pop(0)
            if proxy_page:
                page = f"<html><body>{call.status}: no answer from upstream for {request.url}</body></html>"
                return web.Response(text=page, status=call.status, content_type="text/html")
            if call.status == 429:
                return json_body({"ok": False, "error_code": 429,
                                  "description": f"Too Many Requests: retry after {retry_after:g}",
                                  "parameters": {"retry_after": retry_after}}, 429)
            return json_body({"ok": False, "error_code": call.status, "description": "Internal Server Error"},
                             call.status)
        if method in self._holds and self._hold_after[method] > 0:
            self._hold_after[method] -= 1
        elif method in self._holds and not self._holds[method].is_set():
            gate = self._holds[method]
            self.held[method].set()
            await asyncio.to_thread(gate.wait, 30)
            gate.set()  # one call is held; release() of a hold already spent is harmless
            call.status = 502
            return json_body({"ok": False, "error_code": 502, "description": "Bad Gateway"}, 502)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return json_body({"ok": False, "error_code": 404, "description": "Not Found: method not found"}, 404)
        try:
            return json_body({"ok": True, "result": await handler(params)})
        except Refused as refusal:
            call.status = refusal.status
            return json_body({"ok": False, "error_code": refusal.status, "description": refusal.description},
                             refusal.status)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                params[key] = (value.filename, value.file.read())
            elif key in JSON_FIELDS:
                params[key] = json.loads(value)
            else:
                params[key] = value
        return params

    async def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        with self.server.lock:
            self.callback_answers[str(params["callback_query_id"])] = str(params.get("text", ""))
        return True

    async def _api_getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, user = int(params["chat_id"]), int(params["user_id"])
        member = {"id": user, "is_bot": False, "first_name": "Ada"}
        if user in self.admins.get(chat, set()):
            return {"status": "creator", "user": member, "is_anonymous": False}
        return {"status": "member", "user": member}

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        if not str(params.get("url", "")).startswith("https://"):
            raise Refused(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = Hook(url=params["url"], secret_token=params.get("secret_token"))
        return True

    async def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands = params["commands"]
        return True

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Long poll. As Telegram does, a second poller ends the pending poll with 409 Conflict."""
        if self.webhook is not None:
            raise Refused(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
                          "to delete the webhook first")
        offset, timeout = int(params.get("offset", 0)), float(params.get("timeout", 0))
        deadline = time.monotonic() + timeout
        self._poll_generation += 1
        generation = self._poll_generation
        self.server.soon(self._new_update.set)  # type: ignore[union-attr]
        while True:
            if generation != self._poll_generation:
                raise Refused(409, "Conflict: terminated by other getUpdates request")
            with self.server.lock:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed ones go
                if self._updates or time.monotonic() >= deadline or self._closing:
                    return list(self._updates)
            event: asyncio.Event = self._new_update  # type: ignore[assignment]
            event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), max(0.0, deadline - time.monotonic()))

    async def _api_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("file_id") not in self.files:
            raise Refused(400, "Bad Request: invalid file_id")
        path, data = self.files[params["file_id"]]
        if self.local_dir is not None:
            local = self.local_dir / path
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
            path = str(local.resolve())
        elif len(data) > DOWNLOAD_LIMIT:
            raise Refused(400, "Bad Request: file is too big")
        return {"file_id": params["file_id"], "file_unique_id": "u" + params["file_id"], "file_size": len(data),
                "file_path": path}

    async def _download(self, request: web.Request) -> web.Response:
        """GET /file/bot<token>/<file_path>: the bytes, recorded as a "download" call."""
        call = Call("download", {"path": request.match_info["path"]}, time.monotonic())
        with self.server.lock:
            self.calls.append(call)
        found = next((data for path, data in self.files.values() if path == request.match_info["path"]), None)
        if request.match_info["token"] != self.token or found is None:
            call.status = 404
            return web.Response(status=404, text="Not Found")
        return web.Response(body=found, content_type="application/octet-stream")

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        text = _text(params)
        return self._record(params, SentMessage(0, int(params["chat_id"]), text=text, edits=[text]))

    async def _api_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        filename, data = params["photo"]
        _check_photo(data)
        return self._record(params, SentMessage(0, int(params["chat_id"]), caption=_caption(params),
                                                photo=data, filename=filename))

    async def _api_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        filename, data = params["document"]
        return self._record(params, SentMessage(0, int(params["chat_id"]), caption=_caption(params),
                                                document=data, filename=filename))

    async def _api_sendChatAction(self, params: dict[str, Any]) -> bool:
        return True  # shows nothing lasting: the test reads it from ``calls``

    async def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        text = _text(params)
        with self.server.lock:
            message = next((m for m in self.messages if m.message_id == int(params["message_id"])
                            and m.chat_id == int(params["chat_id"])), None)
            if message is None:
                raise Refused(400, "Bad Request: message to edit not found")
            buttons = _buttons(params)
            if message.text == text and message.buttons == buttons:
                raise Refused(400, NOT_MODIFIED)
            message.text, message.buttons = text, buttons  # an edit without reply_markup removes the keyboard
            message.edits.append(text)
        return self._payload(message)

    def _record(self, params: dict[str, Any], message: SentMessage) -> dict[str, Any]:
        message.message_id = next(self._message_ids)
        message.reply_to = (params.get("reply_parameters") or {}).get("message_id")
        message.buttons = _buttons(params)
        with self.server.lock:
            self.messages.append(message)
        return self._payload(message)

    def _payload(self, message: SentMessage) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "message_id": message.message_id, "date": int(time.time()), "from": BOT_USER,
            "chat": {"id": message.chat_id, "type": "private" if message.chat_id > 0 else "group"},
        }
        if message.photo is not None:
            payload["photo"] = [{"file_id": f"photo{message.message_id}", "file_unique_id": f"p{message.message_id}",
                                 "width": 640, "height": 480}]
        if message.document is not None:
            payload["document"] = {"file_id": f"doc{message.message_id}", "file_unique_id": f"d{message.message_id}",
                                   "file_name": message.filename}
        if message.caption:
            payload["caption"] = message.caption
        if message.text:
            payload["text"] = message.text
        return payload


def _length(text: str) -> int:
    """Telegram counts text in UTF-16 code units: an emoji outside the BMP counts twice."""
    return len(text.encode("utf-16-le")) // 2


def _buttons(params: dict[str, Any]) -> list[tuple[str, str]]:
    """An inline keyboard's buttons, row after row; callback data is at most 64 bytes, as Telegram allows."""
    rows = (params.get("reply_markup") or {}).get("inline_keyboard", [])
    buttons = [(button["text"], button.get("callback_data", "")) for row in rows for button in row]
    if any(len(data.encode()) > 64 or not data for _, data in buttons):
        raise Refused(400, "Bad Request: BUTTON_DATA_INVALID")
    return buttons


def _text(params: dict[str, Any]) -> str:
    text = str(params.get("text", ""))
    if not text.strip():
        raise Refused(400, "Bad Request: message text is empty")
    if _length(text) > TEXT_LIMIT:
        raise Refused(400, "Bad Request: message is too long")
    return text


def _caption(params: dict[str, Any]) -> str:
    caption = str(params.get("caption", ""))
    if _length(caption) > CAPTION_LIMIT:
        raise Refused(400, "Bad Request: message caption is too long")
    return caption


def _check_photo(data: bytes) -> None:
    """A photo must be an image Telegram can decode, of at most 10 MB and 10000 px width + height."""
    if len(data) > PHOTO_LIMIT:
        raise Refused(400, "Bad Request: file is too big")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise Refused(400, "Bad Request: IMAGE_PROCESS_FAILED") from None
    if width + height > 10000 or max(width, height) > 20 * min(width, height):
        raise Refused(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
