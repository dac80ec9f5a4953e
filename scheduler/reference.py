"""The real data the synthetic samples are drawn from: the feature tables of the training pipelines.

The scheduler may run on a machine where the feature pipelines never ran (its own DATA_DIR);
then it runs them once itself (Iris from scikit-learn, Titanic from TITANIC_URL, checksum
checked), the same code that training uses, and the table is there for the next round.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from common.errors import DataError
from common.feature_store import LocalFeatureStore

logger = logging.getLogger(__name__)


class ReferenceTables:
    def __init__(self, store: LocalFeatureStore, data_dir: Path, titanic_source: str, titanic_sha256: str) -> None:
        self.store = store
        self.data_dir = data_dir
        self.titanic_source = titanic_source
        self.titanic_sha256 = titanic_sha256

    def table(self, model: str) -> pd.DataFrame:
        try:
            return self.store.read_table(model)
        except DataError:
            logger.info("no %s feature table in %s yet: running its feature pipeline", model, self.store.root)
        if model == "iris":
            from training.iris.pipeline import feature_pipeline as iris_features

            return iris_features(self.store)
        if model == "titanic":
            from training.titanic.pipeline import feature_pipeline as titanic_features

            return titanic_features(self.titanic_source, self.titanic_sha256, self.data_dir, self.store)
        raise DataError(f"no feature table for model {model!r}")
