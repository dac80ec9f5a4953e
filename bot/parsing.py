"""Chat text -> a validated command, or BadCommand with a message written for the user.

Platform-neutral and free of ML imports. Text is NFKC-normalised first (fullwidth digits become
ASCII); each model parses its own arguments (models.values checks the numbers strictly).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from common.errors import BadCommand
from common.jobs import FeatureValue
from models import MODELS
from models.values import shown

MAX_MESSAGE_CHARS = 1000
LANGUAGE = re.compile(r"[a-z]{2,3}")  # Whisper's codes; the worker checks it knows the one given
LANGUAGE_KEYS = {"lang", "language"}
DEFAULT_LANGUAGE = "sv"
COMMAND = re.compile(r"/([A-Za-z_]+)(?:@[A-Za-z0-9_]+)?")
SPEECH = {"translate", "transcribe"}
JOB_CONTROL = {"status", "cancel"}
SUBSCRIPTIONS = {"subscribe", "unsubscribe", "monitor"}
HELP = {"help", "start"}
COMMANDS = SPEECH | JOB_CONTROL | SUBSCRIPTIONS | HELP  # and one per model in MODELS


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
    language: str = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class JobControl:
    action: str  # "status" or "cancel"
    job_id: str


@dataclass(frozen=True)
class Subscription:
    action: str  # "subscribe", "unsubscribe" or "monitor"
    arguments: list[str] = field(default_factory=list)


Command = Help | Predict | Speech | JobControl | Subscription


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
    return Subscription(name, arguments)


def speech_arguments(arguments: list[str]) -> tuple[list[str], str]:
    """A speech command's (or caption's) words as (the words without `lang=xx`, the language, default sv)."""
    language = DEFAULT_LANGUAGE
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
