"""Predictions as pure functions of a model bundle and the user's features.

The workers' jobs and the scheduler's daily monitoring both call these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from common.jobs import FeatureValue, PredictionResult
from common.schemas import IRIS
from training.titanic.features import encode


def predict_iris(
    bundle: Mapping[str, Any], version: int, rows: Sequence[Mapping[str, FeatureValue]]
) -> list[PredictionResult]:
    features = np.array([[float(row[name]) for name in IRIS.names] for row in rows])  # type: ignore[arg-type]
    return _results("iris", bundle, version, rows, bundle["model"].predict_proba(features))


def predict_titanic(
    bundle: Mapping[str, Any], version: int, rows: Sequence[Mapping[str, FeatureValue]]
) -> list[PredictionResult]:
    features = encode(rows, bundle["medians"])
    return _results("titanic", bundle, version, rows, bundle["model"].predict_proba(features))


PREDICTORS = {"iris": predict_iris, "titanic": predict_titanic}


def _results(
    model: str,
    bundle: Mapping[str, Any],
    version: int,
    rows: Sequence[Mapping[str, FeatureValue]],
    probabilities: np.ndarray,
) -> list[PredictionResult]:
    labels = bundle["labels"]
    results = []
    for row, row_probabilities in zip(rows, probabilities, strict=True):
        best = int(np.argmax(row_probabilities))
        results.append(
            PredictionResult(
                model=model,
                version=version,
                label=labels[best],
                probability=round(float(row_probabilities[best]), 4),
                probabilities={label: round(float(p), 4) for label, p in zip(labels, row_probabilities, strict=True)},
                features=dict(row),
            )
        )
    return results
