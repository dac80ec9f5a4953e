"""A model's arguments in chat text -> validated feature values, or BadCommand written for the user.

Numbers are matched by a strict ASCII pattern (the bot normalises text with NFKC first), because
Python's float() also accepts '1_000', 'nan', 'infinity' and digits of other scripts. A decimal
comma (5,1, as written in Sweden) is read as a point where no other reading fits; see split_values.
"""

from __future__ import annotations

import math
import re

from common.errors import BadCommand
from common.jobs import FeatureValue
from common.schemas import ChoiceFeature, ModelSchema, NumericFeature

NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+", re.ASCII)  # 5,1; but 5,1,3 is a list
THOUSANDS = re.compile(r"[+-]?\d{1,3},\d{3}", re.ASCII)  # 1,500: fifteen hundred where commas group digits


def split_values(arguments: list[str], count: int) -> list[str]:
    """Words -> values, apart by spaces or commas ('5.1 3.5', '5.1, 3.5', '5.1,3.5'), ``count`` expected.

    A comma between digits is a decimal comma instead where a separator cannot be meant: in
    name=5,1 (the 1 would have no name), and when splitting gives a count other than ``count``
    but keeping each 5,1 whole gives exactly ``count`` ('5,1 3,5 1,4 0,2'). number() reads them.
    """
    tokens = [token for argument in arguments for token in _split(argument)]
    decimal = all("," not in argument or DECIMAL_COMMA.fullmatch(argument) for argument in arguments)
    if len(tokens) != count and len(arguments) == count and decimal:
        return list(arguments)
    return tokens


def _split(argument: str) -> list[str]:
    _, separator, value = argument.partition("=")
    if separator and DECIMAL_COMMA.fullmatch(value):
        return [argument]
    return [token for token in argument.split(",") if token]


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


def parse_positional(schema: ModelSchema, arguments: list[str], described: str) -> dict[str, FeatureValue]:
    """Numbers in the schema's order, apart by spaces or commas (split_values); ``described`` names them
    in the error ("4 measurements in cm (...)")."""
    tokens = split_values(arguments, len(schema.features))
    if len(tokens) != len(schema.features):
        gave = f"you gave {len(tokens)}"
        decimals = [argument for argument in arguments if DECIMAL_COMMA.fullmatch(argument)]
        if decimals:  # say both readings: the user may have meant either
            first = shown(decimals[0], 20)
            gave += f", or {len(tokens) - len(decimals)} reading {first} as {first.replace(',', '.')}"
        raise BadCommand(f"/{schema.model} takes {described}; {gave}. Example: {schema.example}")
    return {
        feature.name: number(schema, feature, token)
        for feature, token in zip(schema.features, tokens, strict=True)
        if isinstance(feature, NumericFeature)
    }


def number(schema: ModelSchema, feature: NumericFeature, raw: str) -> float:
    label = f"{feature.name} ({feature.help})" if feature.help else feature.name
    if DECIMAL_COMMA.fullmatch(raw):  # 5,1 is read as 5.1 and echoed as typed below
        value = float(_decimal_point(schema, label, raw))
    elif NOT_FINITE.fullmatch(raw):
        raise BadCommand(f"{label} must be a finite number, not '{shown(raw)}'. Example: {schema.example}")
    elif not NUMBER.fullmatch(raw):
        raise BadCommand(f"{label} must be a number, not '{shown(raw)}'. Example: {schema.example}")
    else:
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


def _decimal_point(schema: ModelSchema, label: str, raw: str) -> str:
    """'5,1' -> '5.1'; refused where the comma may group thousands (1,500), whatever the range says."""
    if THOUSANDS.fullmatch(raw):
        raise BadCommand(
            f"{label}: {raw} could be {raw.replace(',', '')} or {raw.replace(',', '.')}; "
            f"write it without the comma or with a point. Example: {schema.example}"
        )
    return raw.replace(",", ".")


def choice(schema: ModelSchema, feature: ChoiceFeature, raw: str) -> str:
    """One of the choices, or a documented alias of one (f, woman -> female), in any case."""
    by_lower = {choice.lower(): choice for choice in feature.choices}
    by_lower.update({alias.lower(): choice for alias, choice in feature.aliases.items()})
    if raw.lower() not in by_lower:
        also = f" (also {', '.join(feature.aliases)})" if feature.aliases else ""
        raise BadCommand(
            f"{feature.name} must be one of {', '.join(feature.choices)}{also}, not '{shown(raw)}'. "
            f"Example: {schema.example}"
        )
    return by_lower[raw.lower()]


def shown(text: str, limit: int = 40) -> str:
    """User text echoed back: shortened, so a reply never grows with the input."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
