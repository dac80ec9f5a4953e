"""What delivery needs of a chat platform, and what it remembers of each job's acknowledgement.

The adapter supplies a :class:`Platform` and maps its library's errors to :class:`RetryLater`,
:class:`Transient` or :class:`Undeliverable`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Protocol

import redis

from common.jobs import ReplyTo

Buttons = tuple[tuple[str, str], ...]  # (label, data) under a message, in one row (bot/presses.py)

ACK_TTL_S = 2 * 24 * 3600


class DeliveryError(Exception):
    """Base of the errors an adapter raises from its :class:`Platform` methods."""


class RetryLater(DeliveryError):
    """The platform said 429: try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after:g} s")
        self.retry_after = retry_after


class Transient(DeliveryError):
    """A 5xx, a timeout, a dropped connection: worth retrying with back-off."""


class Undeliverable(DeliveryError):
    """The platform refused for good (chat gone, bot blocked): log and drop."""


@dataclass
class Ack:
    """The message that acknowledged a job; ``token``/``app``/``expires`` are Discord's interaction."""

    chat: str
    message: str
    shows: str = "ack"  # "ack", "progress" (stale once the job ends) or "result"
    token: str | None = None
    app: str | None = None
    expires: float | None = None  # epoch seconds after which ``token`` no longer works


class Platform(Protocol):
    name: str  # the outbox it serves
    text_limit: int
    caption_limit: int
    upload_limit: int

    async def send_text(self, reply: ReplyTo, ack: Ack | None, text: str, buttons: Buttons = ()) -> str: ...

    async def send_file(
        self, reply: ReplyTo, ack: Ack | None, data: bytes, filename: str, caption: str, *, picture: bool
    ) -> str: ...

    async def edit_text(self, ack: Ack, text: str, buttons: Buttons = ()) -> None:
        """``text`` with ``buttons`` instead of what the message showed (no buttons: none are left)."""

    async def show_activity(self, reply: ReplyTo) -> None:
        """An "uploading a photo" sign while a held answer's picture is drawn (where the platform has one)."""


class AckStore:
    def __init__(self, connection: redis.Redis, outbox: str) -> None:
        self.connection = connection
        self.prefix = f"ack:{outbox}:"

    def remember(self, job_id: str, ack: Ack) -> None:
        self.connection.set(self.prefix + job_id, json.dumps(asdict(ack)), ex=ACK_TTL_S)

    def get(self, job_id: str) -> Ack | None:
        raw = self.connection.get(self.prefix + job_id) if job_id else None
        return Ack(**json.loads(raw)) if raw else None
