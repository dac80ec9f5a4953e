"""What the dashboard and its caption show, computed from a model's prediction history.

A history record (one per synthetic sample, appended by scheduler/rounds.py)::

    {"round": "2026-11-24T08:00:00+00:00", "time": "...", "model_version": 2,
     "features": {...}, "label": "setosa", "prediction": "setosa", "probability": 0.98}

Kept apart from the drawing so that the chart's data (the version-change markers, the drift
verdict) can be checked without looking at pixels.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

logger = logging.getLogger(__name__)

WINDOW = timedelta(days=7)
LATEST = 8  # predictions listed in the dashboard's table


@dataclass(frozen=True)
class RoundPoint:
    """One round on the accuracy-over-time chart."""

    time: datetime
    version: int
    correct: int
    total: int
    rolling: float  # accuracy of the rounds within WINDOW up to and including this one
    cumulative: float  # accuracy of all rounds so far


@dataclass(frozen=True)
class Summary:
    model: str
    labels: tuple[str, ...]
    now: datetime
    version: int | None  # the registered version now
    cv_accuracy: float | None  # of that version
    total: int
    correct: int
    window_total: int
    window_correct: int
    threshold: float
    points: list[RoundPoint]
    version_changes: list[tuple[datetime, int]]  # (first round of a version, version), after the first
    confusion: list[list[int]]  # rows: actual label, columns: predicted label
    latest: list[dict[str, Any]] = field(default_factory=list)  # newest first
    cv_by_version: dict[int, float] = field(default_factory=dict)  # what each version promised

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None

    @property
    def window_accuracy(self) -> float | None:
        return self.window_correct / self.window_total if self.window_total else None

    @property
    def shortfall(self) -> float | None:
        """How far the last 7 days' accuracy is below the cross-validation accuracy (negative: above)."""
        if self.window_accuracy is None or self.cv_accuracy is None:
            return None
        return self.cv_accuracy - self.window_accuracy

    @property
    def drifting(self) -> bool:
        return self.shortfall is not None and self.shortfall > self.threshold


def round_time(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["round"])


def summarise(
    model: str,
    labels: Sequence[str],
    history: Sequence[dict[str, Any]],
    *,
    now: datetime,
    version: int | None,
    cv_accuracy: float | None,
    threshold: float,
    cv_by_version: dict[int, float] | None = None,
) -> Summary:
    records = sorted(history, key=lambda record: (round_time(record), record.get("time", "")))
    window = [r for r in records if now - WINDOW < round_time(r) <= now]
    return Summary(
        model=model,
        labels=tuple(labels),
        now=now,
        version=version,
        cv_accuracy=cv_accuracy,
        total=len(records),
        correct=sum(_hit(r) for r in records),
        window_total=len(window),
        window_correct=sum(_hit(r) for r in window),
        threshold=threshold,
        points=_points(records),
        version_changes=version_changes(records),
        confusion=confusion(records, labels),
        latest=list(reversed(records[-LATEST:])),
        cv_by_version=dict(cv_by_version or {}),
    )


def version_changes(records: Sequence[dict[str, Any]]) -> list[tuple[datetime, int]]:
    """The rounds where the model version differs from the round before (records sorted by round)."""
    changes = []
    previous: int | None = None
    for record in records:
        version = int(record["model_version"])
        if previous is not None and version != previous:
            changes.append((round_time(record), version))
        previous = version
    return changes


def confusion(records: Sequence[dict[str, Any]], labels: Sequence[str]) -> list[list[int]]:
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for record in records:
        if record["label"] in index and record["prediction"] in index:
            matrix[index[record["label"]]][index[record["prediction"]]] += 1
    return matrix


def _points(records: Sequence[dict[str, Any]]) -> list[RoundPoint]:
    by_round: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_round.setdefault(record["round"], []).append(record)
    rounds = sorted(((round_time(group[0]), group) for group in by_round.values()), key=lambda item: item[0])
    points = []
    seen_correct = seen_total = 0
    window: deque[tuple[datetime, int, int]] = deque()  # (time, correct, total) of the rounds in WINDOW
    for when, group in rounds:
        correct = sum(_hit(r) for r in group)
        seen_correct += correct
        seen_total += len(group)
        window.append((when, correct, len(group)))
        while window[0][0] <= when - WINDOW:
            window.popleft()
        points.append(
            RoundPoint(
                time=when,
                version=int(group[-1]["model_version"]),
                correct=correct,
                total=len(group),
                rolling=sum(c for _, c, _ in window) / sum(t for _, _, t in window),
                cumulative=seen_correct / seen_total,
            )
        )
    return points


def _hit(record: dict[str, Any]) -> bool:
    return bool(record["label"] == record["prediction"])
