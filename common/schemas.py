"""The features of each model: names, types, accepted ranges and defaults.

Pure Python, so the bots validate input without importing any ML library, and the workers and
training pipelines build their feature vectors from the same definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self.features)

    def feature(self, name: str) -> Feature:
        return next(feature for feature in self.features if feature.name == name)


IRIS = ModelSchema(
    model="iris",
    features=(
        # Ranges: the data's own (4.3-7.9, 2.0-4.4, 1.0-6.9, 0.1-2.5 cm) widened by a margin.
        NumericFeature("sepal_length", 1.0, 12.0, "cm", help="sepal length"),
        NumericFeature("sepal_width", 0.5, 8.0, "cm", help="sepal width"),
        NumericFeature("petal_length", 0.1, 12.0, "cm", help="petal length"),
        NumericFeature("petal_width", 0.05, 5.0, "cm", help="petal width"),
    ),
    labels=("setosa", "versicolor", "virginica"),
    example="/iris 5.1 3.5 1.4 0.2",
)

TITANIC_TITLES = ("Mr", "Mrs", "Miss", "Master", "Rare")

TITANIC = ModelSchema(
    model="titanic",
    features=(
        NumericFeature("pclass", 1, 3, integer=True, help="ticket class: 1, 2 or 3"),
        ChoiceFeature(
            "sex",
            ("female", "male"),
            help="female or male",
            aliases={"f": "female", "woman": "female", "m": "male", "man": "male"},
        ),
        NumericFeature("age", 0.1, 100, "years", help="age in years"),
        NumericFeature("sibsp", 0, 10, integer=True, required=False, default=0, help="siblings and spouses aboard"),
        NumericFeature("parch", 0, 10, integer=True, required=False, default=0, help="parents and children aboard"),
        # The dearest ticket sold was £512.33; nothing was dearer.
        NumericFeature(
            "fare", 0, 600, "£", required=False, help="ticket price in pounds (default: typical for the class)"
        ),
        ChoiceFeature(
            "embarked",
            ("S", "C", "Q"),
            required=False,
            default="S",
            help="port: S (Southampton), C (Cherbourg) or Q (Queenstown)",
            aliases={"southampton": "S", "cherbourg": "C", "queenstown": "Q"},
        ),
        ChoiceFeature(
            "title", TITANIC_TITLES, required=False, help="Mr, Mrs, Miss, Master or Rare (default: from sex and age)"
        ),
    ),
    labels=("died", "survived"),
    example="/titanic pclass=1 sex=female age=29 sibsp=0 parch=0 fare=80 embarked=C",
)

SCHEMAS = {schema.model: schema for schema in (IRIS, TITANIC)}


def titanic_title(sex: str, age: float) -> str:
    """The title a passenger most likely had, when the user gives none."""
    if sex == "male":
        return "Master" if age < 15 else "Mr"
    return "Miss" if age < 18 else "Mrs"


def passenger_in_words(features: dict[str, Any]) -> tuple[str, str]:
    """('1st', 'woman'), ('3rd', 'boy'), ...: how replies and dashboards name a passenger."""
    pclass = {1: "1st", 2: "2nd", 3: "3rd"}.get(int(features.get("pclass") or 3), "3rd")
    person = "woman" if features.get("sex") == "female" else "man"
    age = features.get("age")
    if age is not None and float(age) < 15:
        person = "girl" if person == "woman" else "boy"
    return pclass, person
