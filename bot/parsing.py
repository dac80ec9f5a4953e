"""Chat text -> a validated command, or BadCommand with a message written for the user.

Platform-neutral and free of ML imports. Numbers are matched by a strict ASCII pattern after
Unicode NFKC normalisation, because Python's float() also accepts '1_000', 'nan', 'infinity'
and digits of other scripts.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

from common.errors import BadCommand
from common.jobs import FeatureValue
from common.schemas import IRIS, TITANIC, ChoiceFeature, ModelSchema, NumericFeature

MAX_MESSAGE_CHARS = 1000
LANGUAGE = re.compile(r"[a-z]{2,3}")  # Whisper's codes; the worker checks it knows the one given
LANGUAGE_KEYS = {"lang", "language"}
DEFAULT_LANGUAGE = "sv"
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
COMMAND = re.compile(r"/([A-Za-z_]+)(?:@[A-Za-z0-9_]+)?")
KEY_ALIASES = {
    "class": "pclass",
    "ticket_class": "pclass",
    "gender": "sex",
    "port": "embarked",
    "siblings": "sibsp",
    "parents": "parch",
    "children": "parch",
}
SPEECH = {"translate", "transcribe"}
JOB_CONTROL = {"status", "cancel"}
SUBSCRIPTIONS = {"subscribe", "unsubscribe", "monitor"}
HELP = {"help", "start"}
KNOWN = {"iris", "titanic"} | SPEECH | JOB_CONTROL | SUBSCRIPTIONS | HELP


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
            f"For example: {IRIS.example}"
        )
    head, *arguments = text.split()
    match = COMMAND.fullmatch(head)
    if not match:
        raise BadCommand(f"Commands start with a slash, e.g. {IRIS.example}. Send /help for the list.")
    name = match.group(1).lower()
    if name not in KNOWN:
        raise BadCommand(f"I don't know the command /{_shown(name)}. Send /help for the list.")
    if name in HELP:
        return Help()
    if name == "iris":
        return Predict("iris", parse_iris(arguments))
    if name == "titanic":
        return Predict("titanic", parse_titanic(arguments))
    if name in SPEECH:
        return Speech(name, *speech_arguments(arguments))
    if name in JOB_CONTROL:
        return JobControl(name, _job_id(name, arguments))
    return Subscription(name, arguments)


def parse_iris(arguments: list[str]) -> dict[str, FeatureValue]:
    """Four measurements in cm, by position (`5.1 3.5 1.4 0.2`) or by name (`petal_width=0.2`)."""
    tokens = [token for argument in arguments for token in argument.split(",") if token]
    if tokens and all("=" in token for token in tokens):
        return _parse_named(IRIS, tokens)
    if any("=" in token for token in tokens):
        raise BadCommand(f"Give all four measurements by position or all by name, not mixed. Example: {IRIS.example}")
    if len(tokens) != len(IRIS.features):
        raise BadCommand(
            f"/iris takes 4 measurements in cm (sepal length, sepal width, petal length, petal width); "
            f"you gave {len(tokens)}. Example: {IRIS.example}"
        )
    return {
        feature.name: _number(IRIS, feature, token)
        for feature, token in zip(IRIS.features, tokens, strict=True)
        if isinstance(feature, NumericFeature)
    }


def parse_titanic(arguments: list[str]) -> dict[str, FeatureValue]:
    """`key=value` pairs; required: pclass, sex, age; the rest have defaults."""
    if not arguments:
        raise BadCommand(f"/titanic needs the passenger's details. Example: {TITANIC.example}")
    return _parse_named(TITANIC, arguments)


def _parse_named(schema: ModelSchema, tokens: list[str]) -> dict[str, FeatureValue]:
    values: dict[str, FeatureValue] = {}
    for token in tokens:
        key, separator, raw = token.partition("=")
        key = KEY_ALIASES.get(key.lower().replace("-", "_"), key.lower().replace("-", "_"))
        if not separator or not key or not raw:
            raise BadCommand(f"'{_shown(token)}' is not of the form name=value. Example: {schema.example}")
        if key not in schema.names:
            raise BadCommand(
                f"/{schema.model} has no '{_shown(key)}'. Known: {', '.join(schema.names)}. Example: {schema.example}"
            )
        if key in values:
            raise BadCommand(f"'{key}' is given twice; give it once. Example: {schema.example}")
        feature = schema.feature(key)
        values[key] = (
            _number(schema, feature, raw) if isinstance(feature, NumericFeature) else _choice(schema, feature, raw)
        )
    missing = [f.name for f in schema.features if f.required and f.name not in values]
    if missing:
        raise BadCommand(f"/{schema.model} is missing {', '.join(missing)}. Example: {schema.example}")
    for feature in schema.features:
        if feature.name not in values and isinstance(feature, NumericFeature | ChoiceFeature):
            values[feature.name] = feature.default
    return values


def _number(schema: ModelSchema, feature: NumericFeature, raw: str) -> float:
    label = f"{feature.name} ({feature.help})" if feature.help else feature.name
    if NOT_FINITE.fullmatch(raw):
        raise BadCommand(f"{label} must be a finite number, not '{_shown(raw)}'. Example: {schema.example}")
    if not NUMBER.fullmatch(raw):
        raise BadCommand(f"{label} must be a number, not '{_shown(raw)}'. Example: {schema.example}")
    value = float(raw)
    if not math.isfinite(value):
        raise BadCommand(f"{label} is too large. Example: {schema.example}")
    if feature.integer and not value.is_integer():
        raise BadCommand(f"{label} must be a whole number, not {_shown(raw)}. Example: {schema.example}")
    if not feature.minimum <= value <= feature.maximum:
        unit = f" {feature.unit}" if feature.unit else ""
        raise BadCommand(
            f"{label} must be between {feature.minimum:g} and {feature.maximum:g}{unit}; "
            f"{_shown(raw)} is out of range. Example: {schema.example}"
        )
    return int(value) if feature.integer else value


def _choice(schema: ModelSchema, feature: ChoiceFeature, raw: str) -> str:
    by_lower = {choice.lower(): choice for choice in feature.choices}
    by_lower.update({alias.lower(): choice for alias, choice in feature.aliases.items()})
    if raw.lower() not in by_lower:
        raise BadCommand(
            f"{feature.name} must be one of {', '.join(feature.choices)}, not '{_shown(raw)}'. "
            f"Example: {schema.example}"
        )
    return by_lower[raw.lower()]


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


def _shown(text: str, limit: int = 40) -> str:
    """User text echoed back: shortened, so a reply never grows with the input."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
