"""What a chat chose with /settings: the spoken language, the task for attachments without a caption,
whether voice notes are transcribed unasked, and which files come with a transcript.

Kept in Redis without expiry (one hash per chat), so settings outlive bot restarts and every bot
process of a platform sees the same. A job carries what it needs (language, files) in its request:
workers never read chat settings.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import redis

from common.jobs import ReplyTo

FILE_KINDS = ("txt", "srt", "vtt", "json")
DEFAULT_FILES = ("txt", "srt", "vtt")
TASKS = ("transcribe", "translate")
VOICE = ("auto", "off")


@dataclass(frozen=True)
class ChatSettings:
    language: str = "sv"  # a Whisper code, or "auto"
    task: str = "transcribe"  # for an attachment without a /transcribe or /translate caption
    voice: str | None = None  # "auto", "off"; None: auto in a private chat, off in a group
    files: tuple[str, ...] = DEFAULT_FILES

    def transcribes_voice(self, *, private: bool) -> bool:
        """Whether a voice note or audio file sent without a caption is transcribed."""
        return self.voice == "auto" if self.voice else private

    def shown(self, *, private: bool) -> str:
        voice = "auto" if self.transcribes_voice(private=private) else "off"
        return f"lang={self.language} task={self.task} voice={voice} files={','.join(self.files) or 'none'}"


class ChatSettingsStore:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def get(self, reply: ReplyTo) -> ChatSettings:
        raw: dict[bytes, bytes] = self.connection.hgetall(_key(reply))  # type: ignore[assignment]
        stored = {key.decode(): value.decode() for key, value in raw.items()}
        known = {field.name for field in fields(ChatSettings)}
        values: dict[str, object] = {key: value for key, value in stored.items() if key in known}
        if "files" in values:
            values["files"] = tuple(kind for kind in str(values["files"]).split(",") if kind in FILE_KINDS)
        return ChatSettings(**values)  # type: ignore[arg-type]

    def change(self, reply: ReplyTo, **changes: str | tuple[str, ...]) -> ChatSettings:
        """Store the changed settings (already validated); returns them all."""
        stored = {key: ",".join(value) if isinstance(value, tuple) else value for key, value in changes.items()}
        if stored:
            self.connection.hset(_key(reply), mapping=stored)  # type: ignore[arg-type]  # str keys are fine
        return self.get(reply)


def _key(reply: ReplyTo) -> str:
    return f"chat-settings:{reply.outbox}:{reply.chat}"
