"""Cross-validation report and confusion-matrix picture, shared by the training pipelines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import StratifiedKFold


@dataclass(frozen=True)
class CrossValidation:
    accuracy: float
    accuracy_std: float
    folds: int
    confusion: list[list[int]]  # summed over the folds' held-out rows

    def summary(self) -> str:
        return f"{self.folds}-fold CV accuracy {self.accuracy:.3f} ± {self.accuracy_std:.3f}"


def cross_validate(
    estimator: Any,
    features: np.ndarray,
    labels: np.ndarray,
    *,
    folds: int,
    seed: int,
    progress: Callable[[int], None] = lambda _fold: None,
) -> CrossValidation:
    """Stratified k-fold accuracy, plus the confusion matrix of all held-out predictions."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = []
    predicted = np.empty_like(labels)
    for fold, (train, test) in enumerate(splitter.split(features, labels)):
        model = clone(estimator).fit(features[train], labels[train])
        predicted[test] = model.predict(features[test])
        scores.append(float(np.mean(predicted[test] == labels[test])))
        progress(fold)
    matrix = confusion_matrix(labels, predicted, labels=np.unique(labels))
    return CrossValidation(float(np.mean(scores)), float(np.std(scores)), folds, matrix.tolist())


def save_confusion_png(matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5, 4), dpi=100)
    axes = figure.add_subplot()
    values = np.asarray(matrix)
    axes.imshow(values, cmap="Blues")
    for (row, column), count in np.ndenumerate(values):
        colour = "white" if count > values.max() / 2 else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=12)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
