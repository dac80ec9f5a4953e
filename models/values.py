"""A model's arguments in chat text -> validated feature values, or BadCommand written for the user.

Numbers are matched by a strict ASCII pattern (the bot normalises text with NFKC first), because
Python's float() also accepts '1_000', 'nan', 'infinity' and digits of other scripts.
"""

from __future__ import annotations

import math
import re

from common.errors import BadCommand
from common.jobs import FeatureValue
from common.schemas import ChoiceFeature, ModelSchema, NumericFeature

NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def parse_named(schema: ModelSchema, tokens: list[str]) -> dict[str, FeatureValue]:
    """`key=value` tokens; every required feature given, the others get their defaults."""
    values: dict[str, FeatureValue] = {}
    for token in tokens:
        key, separator, raw = token.partition("=")
        key = key.lower().replace("-", "_")
        key = schema.aliases.get(key, key)
        if not separator or not key or not raw:
            raise BadCommand(f"'{shown(token)}' is not of the form name=value. Example: {schema.example}")
        if key not in schema.names:
            raise BadCommand(
                f"/{schema.model} has no '{shown(key)}'. Known: {', '.join(schema.names)}. Example: {schema.example}"
            )
        if key in values:
            raise BadCommand(f"'{key}' is given twice; give it once. Example: {schema.example}")
        feature = schema.feature(key)
        if isinstance(feature, NumericFeature):
            values[key] = number(schema, feature, raw)
        else:
            values[key] = choice(schema, feature, raw)
    missing = [f.name for f in schema.features if f.required and f.name not in values]
    if missing:
        raise BadCommand(f"/{schema.model} is missing {', '.join(missing)}. Example: {schema.example}")
    for feature in schema.features:
        if feature.name not in values and isinstance(feature, NumericFeature | ChoiceFeature):
            values[feature.name] = feature.default
    return values


def parse_positional(schema: ModelSchema, tokens: list[str], described: str) -> dict[str, FeatureValue]:
    """Numbers in the schema's order; ``described`` names them in the error ("4 measurements in cm (...)")."""
    if len(tokens) != len(schema.features):
        raise BadCommand(f"/{schema.model} takes {described}; you gave {len(tokens)}. Example: {schema.example}")
    return {
        feature.name: number(schema, feature, token)
        for feature, token in zip(schema.features, tokens, strict=True)
        if isinstance(feature, NumericFeature)
    }


def number(schema: ModelSchema, feature: NumericFeature, raw: str) -> float:
    label = f"{feature.name} ({feature.help})" if feature.help else feature.name
    if NOT_FINITE.fullmatch(raw):
        raise BadCommand(f"{label} must be a finite number, not '{shown(raw)}'. Example: {schema.example}")
    if not NUMBER.fullmatch(raw):
        raise BadCommand(f"{label} must be a number, not '{shown(raw)}'. Example: {schema.example}")
    value = float(raw)
    if not math.isfinite(value):
        raise BadCommand(f"{label} is too large. Example: {schema.example}")
    if feature.integer and not value.is_integer():
        raise BadCommand(f"{label} must be a whole number, not {shown(raw)}. Example: {schema.example}")
    if not feature.minimum <= value <= feature.maximum:
        unit = f" {feature.unit}" if feature.unit else ""
        raise BadCommand(
            f"{label} must be between {feature.minimum:g} and {feature.maximum:g}{unit}; "
            f"{shown(raw)} is out of range. Example: {schema.example}"
        )
    return int(value) if feature.integer else value


def choice(schema: ModelSchema, feature: ChoiceFeature, raw: str) -> str:
    by_lower = {choice.lower(): choice for choice in feature.choices}
    by_lower.update({alias.lower(): choice for alias, choice in feature.aliases.items()})
    if raw.lower() not in by_lower:
        raise BadCommand(
            f"{feature.name} must be one of {', '.join(feature.choices)}, not '{shown(raw)}'. Example: {schema.example}"
        )
    return by_lower[raw.lower()]


def shown(text: str, limit: int = 40) -> str:
    """User text echoed back: shortened, so a reply never grows with the input."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
