"""A model's schema as form fields, and the filled form as the command a chat user would type.

Numbers are plain number fields with the schema's range in their hint, not clamped sliders: a value
out of range reaches the same check as in chat and gets the same words back.
"""

from __future__ import annotations

from collections.abc import Sequence

import gradio as gr

from common.errors import UserError
from common.jobs import FeatureValue
from common.schemas import Feature, ModelSchema, NumericFeature
from models.base import TabularModel


def example_values(model: TabularModel) -> dict[str, FeatureValue]:
    """The schema's example command, parsed: what the form starts with."""
    _, *arguments = model.schema.example.split()
    try:
        return model.parse(arguments)
    except UserError:  # an example that does not parse is the model's bug, not the page's
        return {}


def field(feature: Feature, value: FeatureValue) -> gr.components.Component:
    optional = "" if feature.required else " (optional)"
    label = f"{feature.name}{optional}"
    if isinstance(feature, NumericFeature):
        unit = f" {feature.unit}" if feature.unit else ""
        kind = "a whole number" if feature.integer else "a number"
        hint = f"{feature.help}: {kind} from {feature.minimum:g} to {feature.maximum:g}{unit}".lstrip(": ")
        if not feature.required:
            hint += "; leave empty for the default" + (f" ({feature.default:g})" if feature.default is not None else "")
        number = value if isinstance(value, float | int) else None
        return gr.Number(value=number, label=label, info=hint, elem_id=f"field-{feature.name}")
    choices = list(feature.choices)
    if not feature.required:
        choices = ["", *choices]  # empty: the model's default
    return gr.Dropdown(
        choices=choices, value=value if value is not None else ("" if not feature.required else None),
        label=label, info=feature.help, elem_id=f"field-{feature.name}",
    )


def fields(model: TabularModel) -> list[gr.components.Component]:
    start = example_values(model)
    schema = model.schema
    given = {f.name for f in schema.features if f.required or f" {f.name}=" in schema.example}
    # Optional fields the example leaves out stay empty: the model fills them in, as in chat.
    return [field(feature, start.get(feature.name) if feature.name in given else None) for feature in schema.features]


def command_text(schema: ModelSchema, values: Sequence[FeatureValue]) -> str:
    """``/titanic pclass=1 sex=female age=300``: the filled fields, by name; empty ones left out."""
    words = [f"/{schema.model}"]
    for feature, value in zip(schema.features, values, strict=True):
        if value is None or value == "":
            continue
        words.append(f"{feature.name}={_shown(value)}")
    return " ".join(words)


def _shown(value: FeatureValue) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip().replace(" ", "_")  # one word, as in chat; a space would split the command



