"""The words sent with the dashboard: the same facts as the picture, for people who read first.

Captions stay well under Telegram's 1024 characters for a picture caption.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from scheduler.dashboard import title
from scheduler.metrics import Summary

logger = logging.getLogger(__name__)

MAX_CHARS = 1000
SHOWN = 3  # the round's samples named one by one; more are counted


def caption(summary: Summary, new: Sequence[dict[str, Any]] = ()) -> str:
    """``new``: this round's records (empty for an on-demand dashboard)."""
    name = title(summary.model)
    version = f"model v{summary.version}" if summary.version is not None else "no model registered"
    lines = [f"{name} monitoring, {summary.now:%a %d %b %Y} ({version})."]
    if new:
        lines.append(_today(new))
    lines.append(_accuracy(summary))
    lines.append(drift_text(summary))
    if summary.version_changes:
        when, changed = summary.version_changes[-1]
        lines.append(f"Model v{changed} took over on {when.astimezone(summary.now.tzinfo):%d %b %Y}.")
    text = "\n".join(line for line in lines if line)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def drift_text(summary: Summary) -> str:
    if summary.window_accuracy is None:
        return "No samples in the last 7 days, so no drift check."
    if summary.cv_accuracy is None:
        return "The registered model has no cross-validation accuracy to compare with."
    assert summary.shortfall is not None
    points = round(abs(summary.shortfall) * 100)
    if summary.drifting:
        return (
            f"⚠ Drift: accuracy over the last 7 days ({summary.window_accuracy:.0%}) is {points} points below "
            f"the cross-validation accuracy ({summary.cv_accuracy:.0%}), more than the "
            f"{summary.threshold * 100:g}-point threshold. The model may need retraining."
        )
    relation = "above" if summary.shortfall < 0 else "below"
    return (
        f"No drift: the last 7 days are {points} points {relation} the cross-validation accuracy "
        f"({summary.cv_accuracy:.0%}); the alarm goes at {summary.threshold * 100:g} points below."
    )


def _today(new: Sequence[dict[str, Any]]) -> str:
    hits = sum(record["label"] == record["prediction"] for record in new)
    if len(new) == 1:
        record = new[0]
        mark = "right ✓" if hits else "wrong ✗"
        return f"Today's sample was {record['label']}; the model said {record['prediction']} ({mark})."
    named = "; ".join(f"{r['label']} → {r['prediction']}" for r in new[:SHOWN])
    more = f"; and {len(new) - SHOWN} more" if len(new) > SHOWN else ""
    return f"Today: {hits} of {len(new)} samples right ({named}{more})."


def _accuracy(summary: Summary) -> str:
    if summary.accuracy is None:
        return "No predictions recorded yet."
    parts = []
    if summary.window_accuracy is not None:
        parts.append(f"{summary.window_accuracy:.0%} over the last 7 days ({_samples(summary.window_total)})")
    # "over all 1 samples" read like a slip: a single sample is named as one.
    overall = "on the only sample so far" if summary.total == 1 else f"over all {summary.total} samples"
    parts.append(f"{summary.accuracy:.0%} {overall}")
    return "Accuracy: " + ", ".join(parts) + "."


def _samples(count: int) -> str:
    return "1 sample" if count == 1 else f"{count} samples"
