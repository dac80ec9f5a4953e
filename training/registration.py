"""Registering a trained Iris or Titanic classifier: the model, its CV metrics and confusion picture."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import joblib

from common.registry import LocalModelRegistry, ModelVersion
from common.schemas import ModelSchema
from training.evaluation import CrossValidation, save_confusion_png


def register_classifier(
    registry: LocalModelRegistry,
    schema: ModelSchema,
    bundle: dict[str, object],
    report: CrossValidation,
    options: Any,
    algorithm: str,
) -> ModelVersion:
    def write(directory: Path) -> None:
        joblib.dump(bundle, directory / "model.joblib")
        title = f"{schema.model.capitalize()}: CV confusion"
        save_confusion_png(report.confusion, schema.labels, title, directory / "confusion.png")

    return registry.register(
        schema.model,
        write,
        metrics={"cv_accuracy": report.accuracy, "cv_accuracy_std": report.accuracy_std},
        feature_schema=list(schema.names),
        extra={"algorithm": algorithm, "options": asdict(options), "confusion": report.confusion},
    )
