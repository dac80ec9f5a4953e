"""What a tabular model is made of: one object per model, read by the bots, the workers and the scheduler.

A subclass of :class:`TabularModel` holds everything about one model: its schema (the bots parse
and validate with it), its reply text, its feature encoding and prediction and picture (workers),
its synthetic samples and description for the daily monitoring (scheduler), and its training
pipeline. The bot-side parts are pure Python; numpy, pandas, matplotlib and scikit-learn are
imported inside the methods that need them, so a bot process never loads them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.errors import BadCommand
from common.jobs import FeatureValue, PredictionResult
from common.schemas import ModelSchema
from common.settings import DataSettings, Settings
from models.values import parse_named

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure

    from common.feature_store import LocalFeatureStore
    from common.registry import LocalModelRegistry, ModelVersion


@dataclass(frozen=True)
class Sample:
    """A synthetic sample with its known label: the daily monitoring's input."""

    features: dict[str, FeatureValue]
    label: str


@dataclass(frozen=True)
class DataSources:
    """Where the feature pipelines find their raw data; the entry points build it from the settings."""

    data_dir: Path
    data: DataSettings

    @classmethod
    def from_settings(cls, settings: Settings) -> DataSources:
        return cls(settings.storage.DATA_DIR, settings.data)


class TabularModel(ABC):
    schema: ModelSchema
    title: str  # "Iris": how replies and dashboards name it
    summary: str  # one line (at most 100 characters, Discord's limit) for the platforms' command lists
    help: str  # the lines under the example in /help
    algorithm: str = "classifier"

    @property
    def name(self) -> str:
        """The command (``/iris``), the registry's model name and the monitoring's."""
        return self.schema.model

    @property
    def training(self) -> str:
        """The command that trains and registers it, named when no version is registered yet."""
        return f"python -m training.{self.name}"

    # -- the bots' side: pure Python ------------------------------------------------------------

    def parse(self, arguments: list[str]) -> dict[str, FeatureValue]:
        """The command's words -> feature values; `key=value` pairs unless a model says otherwise."""
        if not arguments:
            raise BadCommand(f"/{self.name} needs its features. Example: {self.schema.example}")
        return parse_named(self.schema, arguments)

    @abstractmethod
    def reply_text(self, result: PredictionResult) -> str:
        """The answer a user reads (and the picture's caption)."""

    def describe(self, features: Mapping[str, Any]) -> str:
        """A sample in a few words, for the dashboard's table."""
        return ", ".join(f"{name} {features.get(name)}" for name in self.schema.names)

    # -- the workers' side ----------------------------------------------------------------------

    @abstractmethod
    def encode(self, rows: Sequence[Mapping[str, FeatureValue]], bundle: Mapping[str, Any]) -> np.ndarray:
        """Feature values (as parsed) -> the matrix the bundle's model takes."""

    def predict(
        self, bundle: Mapping[str, Any], version: int, rows: Sequence[Mapping[str, FeatureValue]]
    ) -> list[PredictionResult]:
        """A result per row: the likeliest of the bundle's labels and every label's probability."""
        import numpy as np

        labels = bundle["labels"]
        results = []
        for row, probabilities in zip(rows, bundle["model"].predict_proba(self.encode(rows, bundle)), strict=True):
            best = int(np.argmax(probabilities))
            results.append(
                PredictionResult(
                    model=self.name,
                    version=version,
                    label=labels[best],
                    probability=round(float(probabilities[best]), 4),
                    probabilities={label: round(float(p), 4) for label, p in zip(labels, probabilities, strict=True)},
                    features=dict(row),
                )
            )
        return results

    @abstractmethod
    def picture(self, result: PredictionResult, bundle: Mapping[str, Any]) -> Figure:
        """The picture sent after the text answer (a matplotlib Figure, drawn without pyplot)."""

    # -- the scheduler's side -------------------------------------------------------------------

    @abstractmethod
    def synthesise(self, table: pd.DataFrame, count: int, rng: np.random.Generator) -> list[Sample]:
        """``count`` samples with known labels, drawn from the feature table with ``rng`` only."""

    # -- training -------------------------------------------------------------------------------

    @abstractmethod
    def feature_table(self, store: LocalFeatureStore, sources: DataSources) -> pd.DataFrame:
        """Run the feature pipeline: the table training and the synthetic samples draw from, stored."""

    @abstractmethod
    def train(self, table: pd.DataFrame, registry: LocalModelRegistry) -> ModelVersion:
        """Train with the default options, evaluate, and register a new current version."""
