"""What crosses the queue and the outbox: small dataclasses sent as plain dicts.

Never pickles of our own classes, so bots and workers of different versions can share a queue.
``from_dict`` ignores unknown keys for the same reason.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Self

FeatureValue = float | str | None


class _Plain:
    """asdict/from_dict for the dataclasses below: the only place they become dicts and back."""

    def to_dict(self) -> dict[str, Any]:
        # Fields hold plain data or a nested reply address, so a shallow copy is enough, and
        # several times cheaper than asdict's deep copy on the prediction path.
        return {
            f.name: value.to_dict() if isinstance(value := getattr(self, f.name), _Plain) else value
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values = {key: value for key, value in data.items() if key in known}
        if isinstance(values.get("reply"), dict):  # the one nested dataclass: a reply address
            values["reply"] = ReplyTo.from_dict(values["reply"])
        return cls(**values)


@dataclass
class ReplyTo(_Plain):
    """Where the answers to a job go: an outbox stream and a chat in it."""

    outbox: str  # "telegram", "discord", "console-<session>"
    chat: str
    message: str | None = None  # the user's message (or interaction) to answer
    user: str | None = None


@dataclass
class PredictionRequest(_Plain):
    model: str  # a name in models.MODELS ("iris", "titanic", ...)
    features: dict[str, FeatureValue]
    reply: ReplyTo
    picture: bool = True


@dataclass
class PictureRequest(_Plain):
    """The render job of a prediction's picture: posted to the same chat as its text answer."""

    job_id: str  # the prediction's job, whose answer the picture follows
    reply: ReplyTo
    result: dict[str, Any]  # a PredictionResult as dict


@dataclass
class DashboardRequest(_Plain):
    """/monitor <model>: the current monitoring picture of one model, drawn for one chat."""

    model: str
    reply: ReplyTo


@dataclass
class PredictionResult(_Plain):
    model: str
    version: int
    label: str
    probability: float  # of the predicted label
    probabilities: dict[str, float]
    features: dict[str, FeatureValue] = field(default_factory=dict)


@dataclass
class TranscriptionRequest(_Plain):
    """/transcribe or /translate of one source: a video link or uploaded bytes.

    Exactly one of ``url`` (a link the bot validated: yt-dlp fetches it) or ``artifact`` (the Redis
    key of bytes a bot stored with common.artifacts: a Telegram voice note, a Discord attachment;
    the adapters download them, since the file URLs need the bot's token) is set.
    """

    task: str  # "transcribe" (text in the spoken language) or "translate" (English text)
    reply: ReplyTo
    source_id: str  # "youtube:<id>", "url:<hash>" or "upload:<sha256>": the cache key of the audio
    url: str | None = None
    artifact: str | None = None
    filename: str | None = None  # shown to the user and used for the result files' names
    language: str = "sv"  # the spoken language (Whisper's code)
    files: tuple[str, ...] = ("txt", "srt", "vtt")  # the transcript's files (common.chat_settings.FILE_KINDS)


def cancel_key(job_id: str) -> str:
    """Redis key a bot sets to stop a running job; long jobs check it between steps."""
    return f"cancel:{job_id}"


OutboxKind = Literal["prediction", "picture", "progress", "failed", "text", "document"]


@dataclass
class OutboxMessage(_Plain):
    """One thing to send to one chat. ``final`` marks the last message of a job."""

    kind: OutboxKind
    reply: ReplyTo
    job_id: str = ""
    text: str = ""
    result: dict[str, Any] | None = None
    artifact: str | None = None  # Redis key of a short-lived file (PNG, .txt, .srt)
    filename: str | None = None
    final: bool = True
    # A text that the platform's limit splits into more messages than this is cut there (0: never):
    # a transcript, whose whole follows as a .txt file. Workers do not know the platforms' limits.
    max_parts: int = 0
    # Which part of the job's answer this is ("verdict", "picture", "file:x.srt"): with job_id the key
    # under which a bot remembers it delivered it, so a job that runs twice is shown once. Empty: the
    # bot names it by kind and filename.
    part: str = ""
    # Buttons under it, [label, action] ("English", "translate"; "Transcribe as Finnish",
    # "transcribe:fi"): a press comes back to the bot as the action on this message's job (bot/presses.py).
    buttons: list[list[str]] = field(default_factory=list)
