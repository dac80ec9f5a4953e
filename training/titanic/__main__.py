"""python -m training.titanic [features|train|all]: the Titanic pipelines."""

from __future__ import annotations

from typing import Any

from common.entrypoint import run
from common.errors import DataError
from common.settings import TITANIC_SHA256, Settings
from training.cli import run_pipelines
from training.titanic import pipeline


def features(settings: Settings, store: Any) -> str:
    try:
        passengers = pipeline.feature_pipeline(
            settings.data.TITANIC_URL, TITANIC_SHA256, settings.storage.DATA_DIR, store
        )
    except DataError as exc:
        # Offline, the fix is a local copy of the file: say which setting takes it.
        raise DataError(f"{exc}; set TITANIC_URL to a copy of the CSV (a path or a file:// URL)") from exc
    return f"titanic features: {len(passengers)} passengers, survival rate {passengers['survived'].mean():.3f}"


def main() -> int:
    return run_pipelines(
        "titanic", "Download and clean the Titanic passengers, train XGBoost, register it.",
        pipeline.TitanicOptions, pipeline, features,
    )


if __name__ == "__main__":
    run(main, "training.titanic")
