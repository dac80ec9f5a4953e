"""Synthetic samples with a known label, drawn from the training data: the daily monitoring's input.

Iris: the species first, in the data's proportions, then the four measurements from a normal
distribution fitted to that species (means and covariance, so long petals stay wide), redrawn
until they fall inside the range that species shows in the data.

Titanic, as the original lab did: survival first, in the data's proportion, then each feature
from the survivors' or the victims' empirical distribution. A few features are drawn together
from one real passenger, so that no combination is impossible: age with title (no 40-year-old
"Master"), siblings with parents, and the fare from passengers of the drawn class.

Everything draws from the ``numpy.random.Generator`` it is given, so a seed reproduces a round.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from common.jobs import FeatureValue
from common.schemas import IRIS, TITANIC

logger = logging.getLogger(__name__)

MAX_REDRAWS = 1000


@dataclass(frozen=True)
class Sample:
    features: dict[str, FeatureValue]
    label: str


def round_rng(model: str, round_id: str, seed: int = 0) -> np.random.Generator:
    """The generator of one model's round: a re-run of the same round draws the same samples."""
    return np.random.default_rng([seed, zlib.crc32(f"{model}:{round_id}".encode())])


def synthesise(model: str, table: pd.DataFrame, count: int, rng: np.random.Generator) -> list[Sample]:
    if model == "iris":
        return synthesise_iris(table, count, rng)
    if model == "titanic":
        return synthesise_titanic(table, count, rng)
    raise ValueError(f"no synthesis for model {model!r}")


def synthesise_iris(flowers: pd.DataFrame, count: int, rng: np.random.Generator) -> list[Sample]:
    """``flowers``: the iris feature table (the four measurements and ``species``)."""
    names = list(IRIS.names)
    balance = flowers["species"].value_counts(normalize=True).reindex(list(IRIS.labels), fill_value=0.0)
    species = rng.choice(balance.index.to_numpy(), size=count, p=balance.to_numpy())
    shapes = {}
    for label in set(species):
        rows = flowers.loc[flowers["species"] == label, names].to_numpy(dtype=float)
        shapes[label] = (rows.mean(axis=0), np.cov(rows, rowvar=False), rows.min(axis=0), rows.max(axis=0))
    samples = []
    for label in species:
        mean, covariance, low, high = shapes[label]
        for _ in range(MAX_REDRAWS):
            # The data has one decimal (millimetres); so do the samples.
            values = np.round(rng.multivariate_normal(mean, covariance), 1)
            if np.all(values >= low) and np.all(values <= high):
                break
        else:  # unreachable for real data; a degenerate table falls back to its bounds
            values = np.clip(values, low, high)
        samples.append(Sample({n: float(v) for n, v in zip(names, values, strict=True)}, str(label)))
    return samples


def synthesise_titanic(passengers: pd.DataFrame, count: int, rng: np.random.Generator) -> list[Sample]:
    """``passengers``: the cleaned titanic feature table (training/titanic/features.py ``clean``)."""
    survival_rate = float(passengers["survived"].mean())
    survived = rng.random(count) < survival_rate
    groups = {outcome: _Outcome(passengers[passengers["survived"] == outcome]) for outcome in (0, 1)}
    return [groups[int(alive)].passenger(rng, bool(alive)) for alive in survived]


class _Outcome:
    """The survivors or the victims, split once the ways the draws need them."""

    def __init__(self, group: pd.DataFrame) -> None:
        self.group = group.reset_index(drop=True)
        aged = self.group[self.group["age"].notna()]
        self.aged_by_sex = {sex: rows.reset_index(drop=True) for sex, rows in aged.groupby("sex")}
        self.fares_by_class = {int(str(k)): rows.to_numpy() for k, rows in self.group.groupby("pclass")["fare"]}

    def passenger(self, rng: np.random.Generator, survived: bool) -> Sample:
        group = self.group
        pclass = int(_pick(group["pclass"], rng))
        sex = str(_pick(group["sex"], rng))
        # Age and title from one passenger of this outcome and sex whose age is known; siblings and
        # parents from one passenger; the fare from one of the drawn class.
        aged = self.aged_by_sex.get(sex, group[group["age"].notna()])
        person = aged.iloc[int(rng.integers(len(aged)))]
        family = group.iloc[int(rng.integers(len(group)))]
        fares = self.fares_by_class.get(pclass, group["fare"].to_numpy())
        features: dict[str, FeatureValue] = {
            "pclass": pclass,
            "sex": sex,
            "age": float(person["age"]),
            "sibsp": int(family["sibsp"]),
            "parch": int(family["parch"]),
            "fare": float(fares[int(rng.integers(len(fares)))]),
            "embarked": str(_pick(group["embarked"], rng)),
            "title": str(person["title"]),
        }
        return Sample(features, TITANIC.labels[int(survived)])


def _pick(column: pd.Series, rng: np.random.Generator) -> Any:
    """One value of the column's empirical distribution."""
    return column.iloc[int(rng.integers(len(column)))]
