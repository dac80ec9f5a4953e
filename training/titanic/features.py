"""Titanic feature engineering, shared by the training pipeline and the prediction worker.

Only features a chat user can give are used (class, sex, age, relatives, fare, port, title), so
a prediction sees exactly what training saw. Missing ages are imputed by the title's median age,
missing fares by the class's median fare; both medians are stored with the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from models.titanic import TITANIC_TITLES, titanic_title

COLUMNS = (
    "pclass",
    "female",
    "age",
    "sibsp",
    "parch",
    "fare",
    "log_fare",
    "family_size",
    "alone",
    "fare_per_person",
    *(f"title_{t}" for t in TITANIC_TITLES),
    "embarked_S",
    "embarked_C",
    "embarked_Q",
)
TITLE_ALIASES = {"Mlle": "Miss", "Ms": "Miss", "Mme": "Mrs"}


def title_from_name(name: str) -> str:
    """'Braund, Mr. Owen Harris' -> 'Mr'; uncommon titles (Dr, Rev, Col, ...) -> 'Rare'."""
    raw = name.split(",", 1)[-1].split(".", 1)[0].strip()
    title = TITLE_ALIASES.get(raw, raw)
    return title if title in TITANIC_TITLES else "Rare"


def clean(raw: pd.DataFrame) -> pd.DataFrame:
    """Raw CSV rows -> one passenger per row in the chat's terms (gaps in age and fare kept)."""
    return pd.DataFrame(
        {
            "pclass": raw["Pclass"].astype(int),
            "sex": raw["Sex"].str.lower(),
            "age": raw["Age"],
            "sibsp": raw["SibSp"].astype(int),
            "parch": raw["Parch"].astype(int),
            "fare": raw["Fare"],
            "embarked": raw["Embarked"].fillna("S"),
            "title": raw["Name"].map(title_from_name),
            "survived": raw["Survived"].astype(int),
        }
    )


def fit_medians(passengers: pd.DataFrame) -> dict[str, Any]:
    """The imputation values, learnt from the training rows and stored with the model."""
    return {
        "age_by_title": {k: float(v) for k, v in passengers.groupby("title")["age"].median().round(1).items()},
        "fare_by_class": {int(k): float(v) for k, v in passengers.groupby("pclass")["fare"].median().items()},
    }


def encode(passengers: Sequence[Mapping[str, Any]], medians: Mapping[str, Any]) -> np.ndarray:
    """Passengers (dicts of the chat's features, gaps allowed) -> the model's feature matrix."""
    rows = np.zeros((len(passengers), len(COLUMNS)), dtype=np.float32)
    for i, passenger in enumerate(passengers):
        rows[i] = _encode_one(passenger, medians)
    return rows


def _encode_one(passenger: Mapping[str, Any], medians: Mapping[str, Any]) -> list[float]:
    pclass = int(passenger["pclass"])
    sex = str(passenger["sex"])
    title = passenger.get("title") or titanic_title(sex, _number(passenger.get("age"), 30.0))
    age = _number(passenger.get("age"), medians["age_by_title"].get(title, 30.0))
    fare = _number(passenger.get("fare"), _by_class(medians["fare_by_class"], pclass))
    sibsp = int(passenger.get("sibsp") or 0)
    parch = int(passenger.get("parch") or 0)
    embarked = passenger.get("embarked") or "S"
    family = sibsp + parch + 1
    return [
        pclass,
        float(sex == "female"),
        age,
        sibsp,
        parch,
        fare,
        float(np.log1p(fare)),
        family,
        float(family == 1),
        fare / family,
        *(float(title == t) for t in TITANIC_TITLES),
        float(embarked == "S"),
        float(embarked == "C"),
        float(embarked == "Q"),
    ]


def _by_class(values: Mapping[Any, float], pclass: int) -> float:
    # JSON round trips turn the int keys into strings.
    return float(values.get(pclass, values.get(str(pclass), 14.45)))


def _number(value: Any, fallback: float) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return float(fallback)
    return float(value)
