"""Chat text -> a validated command, or BadCommand with a message written for the user.

Platform-neutral and free of ML imports. Text is NFKC-normalised first (fullwidth digits become
ASCII); each model parses its own arguments (models.values checks the numbers strictly).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from common.chat_settings import FILE_KINDS, TASKS, VOICE
from common.errors import BadCommand
from common.jobs import FeatureValue
from models import MODELS
from models.values import shown

MAX_MESSAGE_CHARS = 1000
LANGUAGE = re.compile(r"[a-z]{2,3}")  # Whisper's codes; the worker checks it knows the one given
LANGUAGE_KEYS = {"lang", "language"}
COMMAND = re.compile(r"/([A-Za-z_]+)(?:@[A-Za-z0-9_]+)?")
SPEECH = {"translate", "transcribe"}
JOB_CONTROL = {"status", "cancel"}
SUBSCRIPTIONS = {"subscribe", "unsubscribe", "monitor"}
HELP = {"help", "start"}
SETTINGS = "settings"
STATS = "stats"
COMMANDS = SPEECH | JOB_CONTROL | SUBSCRIPTIONS | HELP | {SETTINGS, STATS}  # and one per model in MODELS


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Predict:
    model: str
    features: dict[str, FeatureValue]


@dataclass(frozen=True)
class Speech:
    task: str  # "translate" or "transcribe"
    arguments: list[str] = field(default_factory=list)  # the words other than lang=
    language: str | None = None  # None: the chat's (/settings), else sv


@dataclass(frozen=True)
class JobControl:
    action: str  # "status" or "cancel"
    job_id: str


@dataclass(frozen=True)
class Subscription:
    action: str  # "subscribe", "unsubscribe" or "monitor"
    arguments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChatConfig:
    """/settings: no changes shows the chat's settings."""

    changes: dict[str, str | tuple[str, ...]] = field(default_factory=dict)  # ChatSettings field -> value


@dataclass(frozen=True)
class Stats:
    """/stats: figures for the bot's admins."""


Command = Help | Predict | Speech | JobControl | Subscription | ChatConfig | Stats


def parse(text: str) -> Command:
    text = _normalise(text)
    if not text:
        raise BadCommand("That message is empty. Send /help to see what I can do.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise BadCommand(
            f"That message is {len(text)} characters long; commands are short (at most {MAX_MESSAGE_CHARS}). "
            f"For example: {_example()}"
        )
    head, *arguments = text.split()
    match = COMMAND.fullmatch(head)
    if not match:
        raise BadCommand(f"Commands start with a slash, e.g. {_example()}. Send /help for the list.")
    name = match.group(1).lower()
    if name not in COMMANDS and name not in MODELS:
        raise BadCommand(f"I don't know the command /{shown(name)}. Send /help for the list.")
    if name in HELP:
        return Help()
    if name in MODELS:
        return Predict(name, MODELS[name].parse(arguments))
    if name in SPEECH:
        return Speech(name, *speech_arguments(arguments))
    if name in JOB_CONTROL:
        return JobControl(name, _job_id(name, arguments))
    if name == SETTINGS:
        return ChatConfig(settings_changes(arguments))
    if name == STATS:
        return Stats()
    return Subscription(name, arguments)


def speech_arguments(arguments: list[str]) -> tuple[list[str], str | None]:
    """A speech command's (or caption's) words as (the words without `lang=xx`, the language or None)."""
    language = None
    rest = []
    for argument in arguments:
        key, separator, value = argument.partition("=")
        if separator and key.lower() in LANGUAGE_KEYS:
            language = spoken_language(value)
        else:
            rest.append(argument)
    return rest, language


def spoken_language(value: str) -> str:
    """A language code as the worker takes it; "auto" lets the worker hear which one it is."""
    if value.lower() != "auto" and not LANGUAGE.fullmatch(value.lower()):
        raise BadCommand(f"lang= takes a language code such as sv, en or fi (or auto), not '{value[:20]}'.")
    return value.lower()


SETTINGS_HELP = (
    "/settings lang=<code or auto> task=transcribe|translate voice=auto|off files=txt,srt,vtt,json "
    "(any of them), e.g. /settings lang=fi"
)


def settings_changes(arguments: list[str]) -> dict[str, str | tuple[str, ...]]:
    """`lang=fi voice=auto files=txt,json` as ChatSettings changes; BadCommand names what is wrong."""
    changes: dict[str, str | tuple[str, ...]] = {}
    for argument in arguments:
        key, separator, value = argument.partition("=")
        key, value = key.lower(), value.lower()
        if not separator:
            raise BadCommand(f"Settings are key=value: {SETTINGS_HELP}")
        if key in LANGUAGE_KEYS:
            changes["language"] = spoken_language(value)
        elif key == "task" and value in TASKS:
            changes["task"] = value
        elif key == "voice" and value in VOICE:
            changes["voice"] = value
        elif key == "files" and set(kinds := tuple(k for k in value.split(",") if k)) <= set(FILE_KINDS):
            changes["files"] = tuple(kind for kind in FILE_KINDS if kind in kinds)
        else:
            raise BadCommand(f"I can't set {shown(argument)}. {SETTINGS_HELP}")
    return changes


def _job_id(action: str, arguments: list[str]) -> str:
    if len(arguments) != 1 or not re.fullmatch(r"[A-Za-z0-9-]{4,64}", arguments[0]):
        raise BadCommand(f"/{action} takes one job id, the one I gave when I queued your job: /{action} 1a2b3c4d")
    return arguments[0]


def _normalise(text: str) -> str:
    """NFKC (fullwidth digits become ASCII), control and format characters become spaces."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(" " if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} else c for c in text).strip()


def _example() -> str:
    """A command to show when the message is not one: the first model's example."""
    return next(iter(MODELS.values())).schema.example
