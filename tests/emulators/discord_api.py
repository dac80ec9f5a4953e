"""A small Discord emulator: the REST API (base URL) and the gateway websocket that discord.py uses.

REST: users/@me, oauth2/applications/@me, application commands (PUT), the interaction callback,
webhook follow-ups and edits, channel messages. Gateway: HELLO, IDENTIFY -> READY, heartbeats,
and INTERACTION_CREATE for a slash command a test sends with :meth:`DiscordEmulator.slash`; a file
option (:class:`Upload`) is sent as an attachment in ``resolved`` and served from ``/attachments/``.
Buttons (components) are kept with their message; :meth:`DiscordEmulator.press` presses one (a
component interaction, type 3).
Sharding: ``GET /gateway/bot`` recommends ``shards``; IDENTIFY may name a shard ``[id, count]``,
and a guild's events go only to the connection of shard ``(guild_id >> 22) % count``, as Discord
routes them (``received`` records which shards got each interaction; :func:`guild_on_shard`).
Messages are recorded as the channel shows them (``messages``); :meth:`fail` makes a route
answer 429 (marked with ``Via`` and the ``X-RateLimit-*`` headers as Discord's are) or a 5xx.

It refuses what Discord refuses, with Discord's JSON error codes: an interaction answered after
3 s (10062 Unknown interaction) or twice (40060), its token used after 15 minutes (50027 Invalid
Webhook Token), an upload over the limit (40005 Request entity too large), content over 2000
characters (50035) or an empty message (50006), an unknown message (10008 Unknown Message).
:meth:`DiscordEmulator.age` moves an interaction into the past instead of waiting.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.emulators import EmulatorServer, json_body

APP_ID = 900000000000000001
GUILD_ID = 700000000000000001
BOT_USER = {"id": str(APP_ID), "username": "mljobs", "discriminator": "0", "global_name": "ML jobs",
            "avatar": None, "bot": True, "flags": 0}
MEMBER_PERMISSIONS = 2248473465835073  # a plain member's: no Manage Server
MANAGE_GUILD = 1 << 5
EPHEMERAL = 1 << 6  # a message flag: only the interaction's user sees it
USER = {"id": "800000000000000007", "username": "ada", "discriminator": "0", "global_name": "Ada", "avatar": None}
UPLOAD_LIMIT = 10 * 2**20
CONTENT_LIMIT = 2000
RESPONSE_DEADLINE_S = 3.0
TOKEN_LIFETIME_S = 15 * 60
OPTION_TYPES = {str: 3, int: 4, float: 10}


@dataclass
class Upload:
    """A file a user attaches to a slash command's attachment option."""

    filename: str
    data: bytes
    content_type: str | None = None


@dataclass
class SentMessage:
    id: int
    channel_id: int
    content: str
    via: str  # "interaction response", "follow-up" or "channel"
    interaction_id: int | None = None  # the interaction it answers, for responses and follow-ups
    reference: int | None = None  # the message it replies to
    files: list[tuple[str, bytes]] = field(default_factory=list)
    edits: list[str] = field(default_factory=list)
    ephemeral: bool = False  # only the interaction's user sees it (flag 64)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # its buttons now: (label, custom_id)


@dataclass
class Call:
    method: str
    path: str
    at: float
    status: int = 200


class Refused(Exception):
    """An error answer: Discord's HTTP status, JSON error code and message."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors


class DiscordEmulator:
    def __init__(self, token: str, shards: int = 1) -> None:
        self.token = token
        self.shards = shards  # what GET /gateway/bot recommends
        self.received: dict[int, list[int]] = {}  # interaction id -> the shards it was sent to
        self._shard_of: dict[web.WebSocketResponse, tuple[int, int]] = {}
        self._session_shards: dict[str, tuple[int, int]] = {}
        self.commands: list[dict[str, Any]] = []
        self.messages: list[SentMessage] = []
        self.calls: list[Call] = []
        self.interactions: dict[int, float] = {}  # id -> time it was sent to the bot
        self.acknowledged: set[int] = set()  # interactions whose callback was accepted
        self.loading: set[int] = set()  # deferred ("thinking") responses not yet edited or followed up
        self._interaction_channels: dict[int, int] = {}
        self._interaction_types: dict[int, int] = {}
        self.identified: list[dict[str, Any]] = []
        self.identified_at: list[float] = []  # time.monotonic() of each IDENTIFY
        self._ids = itertools.count(int(time.time() * 1000) << 22)
        self._failures: dict[str, list[tuple[int, float]]] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._sequence = itertools.count(1)
        app = web.Application(client_max_size=30 * 2**20)
        self.uploads: dict[str, bytes] = {}  # attachment path -> the bytes a user attached
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{path:.*}", self._attachment)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self.server = EmulatorServer(app)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/gateway"

    def start(self) -> DiscordEmulator:
        self.server.start()
        return self

    def stop(self) -> None:
        for socket in list(self._sockets):
            self.server.call(socket.close())
        self.server.stop()

    # What a test does.

    def slash(
        self, name: str, channel_id: int = 500, guild_id: int = GUILD_ID, permissions: int = MEMBER_PERMISSIONS,
        **options: Any,
    ) -> int:
        """A user (with ``permissions`` in the guild) runs a slash command in a guild channel; returns its id."""
        command = next(c for c in self.commands if c["name"] == name)
        interaction_id = next(self._ids)
        resolved: dict[str, Any] = {}
        values = [self._option(name, value, interaction_id, channel_id, resolved) for name, value in options.items()]
        data = {"id": command["id"], "name": name, "type": 1, "options": values,
                **({"resolved": resolved} if resolved else {})}
        return self._interact(interaction_id, 2, data, channel_id, guild_id, permissions, USER)

    def press(self, message: SentMessage, label: str, *, user_id: str = USER["id"], custom_id: str | None = None,
              guild_id: int = GUILD_ID) -> int:
        """A user presses the button ``label`` under the bot's ``message``; returns the interaction's id.

        ``custom_id``: send this instead of the button's (what a modified client can do).
        """
        found = next((c for text, c in message.buttons if text == label), None)
        assert found is not None or custom_id is not None, f"no button {label!r} under message {message.id}"
        data = {"custom_id": custom_id if custom_id is not None else found, "component_type": 2}
        user = {**USER, "id": user_id, "username": f"user{user_id[-4:]}"}
        return self._interact(next(self._ids), 3, data, message.channel_id, guild_id, MEMBER_PERMISSIONS, user,
                              message=self._payload(message))

    def _interact(self, interaction_id: int, kind: int, data: dict[str, Any], channel_id: int, guild_id: int,
                  permissions: int, user: dict[str, Any], **extra: Any) -> int:
        member = {"user": user, "roles": [], "joined_at": _now(), "deaf": False, "mute": False, "flags": 0,
                  "permissions": str(permissions)}
        payload = {
            "id": str(interaction_id), "application_id": str(APP_ID), "type": kind, "version": 1,
            "token": f"interaction-token-{interaction_id}", "locale": "en-US", "guild_locale": "en-US",
            "data": data, **extra,
            "guild_id": str(guild_id), "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": {"id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": "general",
                        "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None},
            "member": member, "app_permissions": "2248473465835073", "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)}, "context": 0,
            "attachment_size_limit": UPLOAD_LIMIT,
        }
        self.interactions[interaction_id] = time.monotonic()
        self._interaction_channels[interaction_id] = channel_id
        self._interaction_types[interaction_id] = kind
        self.server.call(self._dispatch("INTERACTION_CREATE", payload))
        return interaction_id

    def _option(self, name: str, value: Any, interaction_id: int, channel_id: int,
                resolved: dict[str, Any]) -> dict[str, Any]:
        """An option as Discord sends it; an Upload becomes an attachment (type 11) in ``resolved``."""
        if not isinstance(value, Upload):
            return {"name": name, "type": OPTION_TYPES[type(value)], "value": value}
        attachment_id = str(next(self._ids))
        path = f"{channel_id}/{attachment_id}/{value.filename}"
        self.uploads[path] = value.data
        url = f"http://127.0.0.1:{self.server.port}/attachments/{path}"
        resolved.setdefault("attachments", {})[attachment_id] = {
            "id": attachment_id, "filename": value.filename, "size": len(value.data), "url": url, "proxy_url": url,
            **({"content_type": value.content_type} if value.content_type else {}),
        }
        return {"name": name, "type": 11, "value": attachment_id}

    def fail(self, route: str, status: int = 429, retry_after: float = 1, times: int = 1) -> None:
        """The next calls whose 'METHOD path' starts with ``route`` fail, e.g. ``fail('POST /webhooks')``."""
        self._failures.setdefault(route, []).extend([(status, retry_after)] * times)

    def age(self, interaction_id: int, seconds: float) -> None:
        """Make an interaction ``seconds`` older, as if that much time had passed since it was sent."""
        with self.server.lock:
            self.interactions[interaction_id] -= seconds

    def channel(self, channel_id: int = 500) -> list[SentMessage]:
        with self.server.lock:
            return [m for m in self.messages if m.channel_id == channel_id]

    # The gateway.

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            if message["op"] == 1:
                await socket.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            elif message["op"] == 2:
                if message["d"]["token"] != self.token:
                    await socket.close(code=4004, message=b"Authentication failed.")
                    break
                shard_id, count = message["d"].get("shard") or [0, 1]
                if not 0 <= shard_id < count:
                    await socket.close(code=4010, message=b"Invalid shard.")
                    break
                self.identified.append(message["d"])
                self.identified_at.append(time.monotonic())
                session = f"session-{len(self.identified)}"
                self._session_shards[session] = self._shard_of[socket] = (shard_id, count)
                self._sockets.append(socket)
                await self._send(socket, "READY", {
                    "v": 10, "user": BOT_USER, "guilds": [], "session_id": session, "shard": [shard_id, count],
                    "resume_gateway_url": self.gateway_url, "application": {"id": str(APP_ID), "flags": 0},
                })
            elif message["op"] == 6:
                self._shard_of[socket] = self._session_shards.get(message["d"].get("session_id"), (0, 1))
                self._sockets.append(socket)
                await self._send(socket, "RESUMED", {})
        if socket in self._sockets:
            self._sockets.remove(socket)
        return socket

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        """To every connection of the shard the event's guild is on (shard 0 without a guild)."""
        guild = int(data.get("guild_id") or 0)
        for socket in self._sockets:
            shard_id, count = self._shard_of.get(socket, (0, 1))
            if (guild >> 22) % count == shard_id:
                if event == "INTERACTION_CREATE":
                    self.received.setdefault(int(data["id"]), []).append(shard_id)
                await self._send(socket, event, data)

    async def _send(self, socket: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        await socket.send_str(json.dumps({"op": 0, "t": event, "s": next(self._sequence), "d": data}))

    # REST.

    async def _attachment(self, request: web.Request) -> web.Response:
        """The CDN: an attached file's bytes, the call recorded as ``GET /attachments/...``."""
        path = request.match_info["path"]
        call = Call("GET", f"/attachments/{path}", time.monotonic())
        with self.server.lock:
            self.calls.append(call)
        if path not in self.uploads:
            call.status = 404
            return web.Response(status=404, text="Not Found")
        return web.Response(body=self.uploads[path], content_type="application/octet-stream")

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        call = Call(request.method, path, time.monotonic())
        with self.server.lock:
            self.calls.append(call)
        for route, failures in self._failures.items():
            if f"{request.method} {path}".startswith(route) and failures:
                call.status, retry_after = failures.pop(0)
                if call.status == 429:
                    return _rate_limited(retry_after)
                return json_body({"message": "Server error", "code": 0}, call.status)
        bot_route = not path.startswith(("/webhooks/", "/interactions/"))
        if bot_route and request.headers.get("Authorization") != f"Bot {self.token}":
            call.status = 401
            return json_body({"message": "401: Unauthorized", "code": 0}, 401)
        body, files = await _body(request)
        try:
            return self._route(request.method, path, body, files)
        except Refused as refusal:
            call.status = refusal.status
            answer: dict[str, Any] = {"message": refusal.message, "code": refusal.code}
            if refusal.errors:
                answer["errors"] = refusal.errors
            return json_body(answer, refusal.status)

    def _route(self, method: str, path: str, body: Any, files: list[tuple[str, bytes]]) -> web.Response:
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            return json_body(BOT_USER)
        if path == "/gateway/bot":
            return json_body({"url": self.gateway_url, "shards": self.shards, "session_start_limit": {
                "total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}})
        if path == "/oauth2/applications/@me":
            return json_body({"id": str(APP_ID), "name": "ML jobs", "icon": None, "description": "",
                              "bot_public": True, "bot_require_code_grant": False, "verify_key": "0" * 64,
                              "owner": USER, "team": None, "flags": 0, "bot": BOT_USER})
        if parts[:1] == ["applications"] and method == "PUT":
            self.commands = [{**command, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1"}
                             for command in body]
            return json_body(self.commands)
        if method in {"POST", "PATCH"}:
            _check_message(body, files, creating=method == "POST")
        if parts[:1] == ["interactions"]:  # /interactions/{id}/{token}/callback
            interaction_id = int(parts[1])
            self._acknowledge(interaction_id)
            channel_id = self._interaction_channels[interaction_id]
            # Type 4 answers with a message; type 5 ("thinking") shows a placeholder until edited.
            message = self._record(body.get("data") or {}, files, channel_id, "interaction response",
                                   interaction_id)
            if body["type"] == 5:
                self.loading.add(interaction_id)
            return json_body({
                "interaction": {"id": parts[1], "type": self._interaction_types[interaction_id],
                                "response_message_id": str(message.id),
                                "response_message_loading": body["type"] == 5,
                                "response_message_ephemeral": message.ephemeral},
                "resource": {"type": body["type"], "message": self._payload(message)},
            })
        if parts[:1] == ["webhooks"]:
            if not parts[2].startswith("interaction-token-"):
                raise Refused(401, 50027, "Invalid Webhook Token")
            interaction_id = int(parts[2].rsplit("-", 1)[1])  # the token names its interaction
            self._check_token(interaction_id)
            if method == "POST" and interaction_id in self.loading:
                # As Discord does: the first follow-up of a deferred interaction fills its "thinking" response.
                self.loading.discard(interaction_id)
                message = self._edit("@original", body, interaction_id)
                message.files = files
                return json_body(self._payload(message))
            if method == "POST":  # a follow-up
                channel_id = self._interaction_channels[interaction_id]
                return json_body(self._payload(self._record(body, files, channel_id, "follow-up", interaction_id)))
            if parts[4] == "@original":
                self.loading.discard(interaction_id)
            return json_body(self._payload(self._edit(parts[4], body, interaction_id)))
        if parts[:1] == ["channels"] and method == "POST":
            reference = (body.get("message_reference") or {}).get("message_id")
            message = self._record(body, files, int(parts[1]), "channel", reference=reference)
            return json_body(self._payload(message))
        if parts[:1] == ["channels"] and method == "PATCH":
            return json_body(self._payload(self._edit(parts[3], body)))
        raise Refused(404, 0, "404: Not Found")

    def _acknowledge(self, interaction_id: int) -> None:
        """The first answer within 3 s is accepted; a late one finds the interaction gone, a second is refused."""
        with self.server.lock:
            if interaction_id not in self.interactions:
                raise Refused(404, 10062, "Unknown interaction")
            if interaction_id in self.acknowledged:
                raise Refused(400, 40060, "Interaction has already been acknowledged.")
            if time.monotonic() - self.interactions[interaction_id] > RESPONSE_DEADLINE_S:
                raise Refused(404, 10062, "Unknown interaction")
            self.acknowledged.add(interaction_id)

    def _check_token(self, interaction_id: int) -> None:
        """Follow-ups and edits need an acknowledged interaction whose token is under 15 minutes old."""
        with self.server.lock:
            if interaction_id not in self.acknowledged:
                raise Refused(404, 10015, "Unknown Webhook")
            if time.monotonic() - self.interactions[interaction_id] > TOKEN_LIFETIME_S:
                raise Refused(401, 50027, "Invalid Webhook Token")

    def _record(self, body: dict[str, Any], files: list[tuple[str, bytes]], channel_id: int, via: str,
                interaction_id: int | None = None, reference: Any = None) -> SentMessage:
        message = SentMessage(next(self._ids), channel_id, body.get("content") or "", via, interaction_id,
                              int(reference) if reference else None, files, [body.get("content") or ""],
                              bool(int(body.get("flags") or 0) & EPHEMERAL), _buttons(body))
        with self.server.lock:
            self.messages.append(message)
        return message

    def _edit(self, message_id: str, body: dict[str, Any], interaction_id: int | None = None) -> SentMessage:
        with self.server.lock:
            if message_id == "@original":
                message = next((m for m in self.messages
                                if m.via == "interaction response" and m.interaction_id == interaction_id), None)
            else:
                message = next((m for m in self.messages if str(m.id) == message_id), None)
            if message is None:
                raise Refused(404, 10008, "Unknown Message")
            if "content" in body:
                message.content = body["content"] or ""
                message.edits.append(message.content)
            if "components" in body:  # an edit without them keeps the buttons; [] removes them
                message.buttons = _buttons(body)
        return message

    def _payload(self, message: SentMessage) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(message.id), "channel_id": str(message.channel_id), "author": BOT_USER,
            "content": message.content, "timestamp": _now(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [], "embeds": [], "pinned": False,
            "type": 19 if message.reference else 0, "flags": 0,
            "components": [{"type": 1, "components": [
                {"type": 2, "style": 2, "label": label, "custom_id": custom} for label, custom in message.buttons
            ]}] if message.buttons else [],
            "attachments": [{"id": str(n), "filename": name, "size": len(data), "content_type": "image/png",
                             "url": f"http://127.0.0.1:{self.server.port}/files/{name}",
                             "proxy_url": f"http://127.0.0.1:{self.server.port}/files/{name}"}
                            for n, (name, data) in enumerate(message.files)],
        }
        if message.via != "channel":
            payload["webhook_id"] = str(APP_ID)
            payload["application_id"] = str(APP_ID)
        return payload


def guild_on_shard(shard_id: int, count: int) -> int:
    """A guild id whose events Discord sends to shard ``shard_id`` of ``count``."""
    return ((GUILD_ID >> 22) // count * count + shard_id) << 22 | 1


def _buttons(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The buttons of a message body's action rows; a custom_id is at most 100 characters, as Discord allows."""
    buttons = [(item.get("label", ""), item.get("custom_id", "")) for row in body.get("components") or []
               for item in row.get("components", []) if item.get("type") == 2]
    if any(not custom or len(custom) > 100 for _, custom in buttons):
        raise Refused(400, 50035, "Invalid Form Body", {"components": {"_errors": [
            {"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}]}})
    return buttons


def _check_message(body: Any, files: list[tuple[str, bytes]], *, creating: bool) -> None:
    """Discord's checks of a message body: upload size, content length, not empty."""
    if sum(len(data) for _, data in files) > UPLOAD_LIMIT:
        raise Refused(413, 40005, "Request entity too large")
    if not isinstance(body, dict):
        return
    data = body.get("data") if "type" in body else body  # an interaction callback wraps its message
    if "type" in body and body["type"] != 4:
        return  # a deferral ("thinking") carries no message
    content = (data or {}).get("content") or ""
    if len(content) > CONTENT_LIMIT:
        raise Refused(400, 50035, "Invalid Form Body", {"content": {"_errors": [
            {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {CONTENT_LIMIT} or fewer in length."}]}})
    if creating and not content.strip() and not files and not (data or {}).get("embeds"):
        raise Refused(400, 50006, "Cannot send an empty message")


def _rate_limited(retry_after: float) -> web.Response:
    """A 429 as Discord sends it: the JSON body, Retry-After, the X-RateLimit-* headers and Cloudflare's Via."""
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
    return json_body(body, 429, {
        "Via": "1.1 google", "Retry-After": str(math.ceil(retry_after)), "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}", "X-RateLimit-Bucket": "emulated-bucket",
        "X-RateLimit-Scope": "user",
    })


async def _body(request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
    """JSON, or multipart with ``payload_json`` and ``files[n]`` parts as discord.py sends uploads."""
    if not request.content_type.startswith("multipart/"):
        return (await request.json() if request.can_read_body else {}), []
    body: Any = {}
    files: list[tuple[str, bytes]] = []
    reader = await request.multipart()
    async for part in reader:
        if part.name == "payload_json":
            body = json.loads(await part.text())
        else:
            files.append((part.filename or "file", bytes(await part.read())))
    return body, files


def _now() -> str:
    return datetime.now(UTC).isoformat()
