"""How a tabular model's features are described: names, types, accepted ranges and defaults.

Pure Python, so the bots validate input without importing any ML library, and the workers and
training pipelines build their feature vectors from the same definitions. Each model's own schema
lives in its module under models/.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NumericFeature:
    name: str
    minimum: float
    maximum: float
    unit: str = ""
    integer: bool = False
    required: bool = True
    default: float | None = None  # used when not required; None: the model imputes it
    help: str = ""


@dataclass(frozen=True)
class ChoiceFeature:
    name: str
    choices: tuple[str, ...]
    required: bool = True
    default: str | None = None
    help: str = ""
    aliases: dict[str, str] = field(default_factory=dict)


Feature = NumericFeature | ChoiceFeature


@dataclass(frozen=True)
class ModelSchema:
    model: str
    features: tuple[Feature, ...]
    labels: tuple[str, ...]
    example: str
    aliases: dict[str, str] = field(default_factory=dict)  # other names users give a feature: "class" -> "pclass"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self.features)

    def feature(self, name: str) -> Feature:
        return next(feature for feature in self.features if feature.name == name)
