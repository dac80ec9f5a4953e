"""Titanic: feature pipeline (download, check, clean, store) and training pipeline (XGBoost)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm
from xgboost import XGBClassifier

from common.feature_store import LocalFeatureStore
from common.registry import LocalModelRegistry, ModelVersion
from models.titanic import TITANIC
from training.download import fetch_checked
from training.evaluation import CrossValidation, cross_validate
from training.registration import register_classifier
from training.titanic.features import COLUMNS, clean, encode, fit_medians

TABLE = "titanic"


@dataclass(frozen=True)
class TitanicOptions:
    folds: int = 5
    seed: int = 42
    n_estimators: int = 300
    max_depth: int = 3
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.8


def feature_pipeline(source: str, sha256: str, data_dir: Path, store: LocalFeatureStore) -> pd.DataFrame:
    """Download (checksum-checked, cached) -> clean -> store the passengers table."""
    csv = fetch_checked(source, sha256, data_dir / "cache", "titanic.csv")
    passengers = clean(pd.read_csv(csv))
    store.write_table(TABLE, passengers)
    return passengers


def make_estimator(options: TitanicOptions) -> XGBClassifier:
    return XGBClassifier(
        n_estimators=options.n_estimators,
        max_depth=options.max_depth,
        learning_rate=options.learning_rate,
        subsample=options.subsample,
        colsample_bytree=options.colsample_bytree,
        random_state=options.seed,
        n_jobs=1,
    )


def train(passengers: pd.DataFrame, options: TitanicOptions) -> tuple[dict[str, object], CrossValidation]:
    """Cross-validate, then fit on all rows. Returns the bundle the worker loads and the CV report."""
    medians = fit_medians(passengers)
    records = passengers.drop(columns="survived").to_dict("records")
    features = encode(records, medians)
    labels = passengers["survived"].to_numpy()
    # disable=None: no bar where stderr is not a terminal (piped or logged output).
    with tqdm(total=options.folds, desc="titanic CV", unit="fold", leave=False, disable=None) as bar:
        report = cross_validate(
            make_estimator(options),
            features,
            labels,
            folds=options.folds,
            seed=options.seed,
            progress=lambda _fold: bar.update(),
        )
    model = make_estimator(options).fit(features, labels)
    bundle = {"model": model, "medians": medians, "columns": list(COLUMNS), "labels": list(TITANIC.labels)}
    return bundle, report


def register(
    registry: LocalModelRegistry, bundle: dict[str, object], report: CrossValidation, options: TitanicOptions
) -> ModelVersion:
    return register_classifier(registry, TITANIC, bundle, report, options, algorithm="xgboost")
