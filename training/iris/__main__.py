"""python -m training.iris [features|train|all]: the Iris pipelines."""

from __future__ import annotations

from typing import Any

from common.entrypoint import run
from common.settings import Settings
from training.cli import run_pipelines
from training.iris import pipeline


def features(_settings: Settings, store: Any) -> str:
    return f"iris features: {len(pipeline.feature_pipeline(store))} flowers"


def main() -> int:
    return run_pipelines(
        "iris", "Store the Iris flowers as features, train a KNN classifier, register it.",
        pipeline.IrisOptions, pipeline, features,
    )


if __name__ == "__main__":
    run(main, "training.iris")
