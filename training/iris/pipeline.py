"""Iris: feature pipeline (scikit-learn's bundled data) and training pipeline (KNN)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sklearn.datasets import load_iris
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from common.feature_store import LocalFeatureStore
from common.registry import LocalModelRegistry, ModelVersion
from models.iris import IRIS
from training.evaluation import CrossValidation, cross_validate
from training.registration import register_classifier

TABLE = "iris"


@dataclass(frozen=True)
class IrisOptions:
    folds: int = 5
    seed: int = 42
    neighbors: int = 5


def feature_pipeline(store: LocalFeatureStore) -> pd.DataFrame:
    data = load_iris(as_frame=True)
    flowers = data.frame.rename(columns=dict(zip(data.feature_names, IRIS.names, strict=True)))
    flowers["species"] = [IRIS.labels[i] for i in data.target]
    flowers = flowers.drop(columns="target")
    store.write_table(TABLE, flowers)
    return flowers


def train(flowers: pd.DataFrame, options: IrisOptions) -> tuple[dict[str, object], CrossValidation]:
    features = flowers[list(IRIS.names)].to_numpy(dtype=float)
    labels = flowers["species"].map(IRIS.labels.index).to_numpy()
    estimator = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=options.neighbors))
    # disable=None: no bar where stderr is not a terminal (piped or logged output).
    with tqdm(total=options.folds, desc="iris CV", unit="fold", leave=False, disable=None) as bar:
        report = cross_validate(
            estimator,
            features,
            labels,
            folds=options.folds,
            seed=options.seed,
            progress=lambda _fold: bar.update(),
        )
    model = estimator.fit(features, labels)
    # The training rows travel with the model: the picture places a sample among them.
    bundle = {"model": model, "labels": list(IRIS.labels), "reference": {"features": features, "labels": labels}}
    return bundle, report


def register(
    registry: LocalModelRegistry, bundle: dict[str, object], report: CrossValidation, options: IrisOptions
) -> ModelVersion:
    return register_classifier(registry, IRIS, bundle, report, options, algorithm="knn")
