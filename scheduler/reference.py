"""The real data the synthetic samples are drawn from: the feature tables of the training pipelines.

The scheduler may run on a machine where the feature pipelines never ran (its own DATA_DIR);
then it runs the model's feature pipeline once itself (Iris from scikit-learn, Titanic from
TITANIC_URL, checksum checked), the same code that training uses, and the table is there for the
next round.
"""

from __future__ import annotations

import logging

import pandas as pd

from common.errors import DataError
from common.feature_store import LocalFeatureStore
from models import MODELS, DataSources

logger = logging.getLogger(__name__)


class ReferenceTables:
    def __init__(self, store: LocalFeatureStore, sources: DataSources) -> None:
        self.store = store
        self.sources = sources

    def table(self, model: str) -> pd.DataFrame:
        try:
            return self.store.read_table(model)
        except DataError:
            logger.info("no %s feature table in %s yet: running its feature pipeline", model, self.store.root)
        if model not in MODELS:
            raise DataError(f"no feature table for model {model!r}")
        return MODELS[model].feature_table(self.store, self.sources)
