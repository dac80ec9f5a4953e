"""The monitoring dashboard's accuracy chart: its legend lists only what is drawn; its dates need no offset label."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from scheduler import dashboard
from scheduler.metrics import Summary, summarise

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def summary(rounds: int, *, cv: float | None = 0.84, threshold: float = 0.1) -> Summary:
    """``rounds`` daily rounds up to NOW, one Titanic sample each, right on every other day."""
    history = [
        {
            "round": (NOW - timedelta(days=days)).isoformat(), "model_version": 1,
            "features": {"pclass": 3, "sex": "male", "age": 30.0},
            "label": "died", "prediction": "died" if days % 2 else "survived", "probability": 0.8,
        }
        for days in range(rounds)
    ]  # fmt: skip
    return summarise(
        "titanic", ("died", "survived"), history, now=NOW, version=1, cv_accuracy=cv, threshold=threshold,
        cv_by_version={1: cv} if cv is not None else None,
    )  # fmt: skip


def accuracy(figure: Figure) -> Axes:
    [axes] = [axes for axes in figure.axes if axes.get_title(loc="left") == "Accuracy over time"]
    return axes


def legend(axes: Axes) -> list[str]:
    shown = axes.get_legend()
    return [text.get_text() for text in shown.get_texts()] if shown is not None else []


def drawn(axes: Axes) -> list[str]:
    """The labels of the artists that show something: a line through two points or more, points, an area."""
    lines = [str(line.get_label()) for line in axes.lines if np.size(line.get_xdata()) > 1]
    others = [str(c.get_label()) for c in axes.collections if np.size(c.get_offsets()) and c.get_paths()]
    return [label for label in lines + others if not label.startswith("_")]


@pytest.mark.parametrize(
    ("rounds", "cv", "threshold", "entries"),
    [
        (0, None, 0.1, []),
        (1, None, 0.1, ["each round"]),
        (1, 0.84, 0.1, ["cross-validation", "drift zone", "each round"]),
        (3, None, 0.1, ["last 7 days = all time", "each round"]),
        (3, 0.05, 0.1, ["cross-validation", "last 7 days = all time", "each round"]),
        (10, 0.84, 0.1, ["cross-validation", "last 7 days", "all time", "drift zone", "each round"]),
    ],
)
def test_the_legend_lists_exactly_the_lines_and_areas_that_are_drawn(rounds, cv, threshold, entries):
    """One round draws no line (a line needs two points); within 7 days the two accuracies are one line;
    a cross-validation accuracy below the threshold leaves no drift zone; no rounds, no legend."""
    axes = accuracy(dashboard.draw(summary(rounds, cv=cv, threshold=threshold)))
    assert sorted(legend(axes)) == sorted(entries)
    assert sorted(drawn(axes)) == sorted(entries)


@pytest.mark.parametrize("rounds", [1, 10, 90])
def test_the_dates_say_day_and_month_and_no_offset_label_sits_beside_the_legend(rounds):
    figure = dashboard.draw(summary(rounds))
    figure.savefig(io.BytesIO(), format="png")  # tick labels and the offset are set while drawing
    axes = accuracy(figure)
    assert axes.xaxis.get_offset_text().get_text() == ""
    ticks = [label.get_text() for label in axes.get_xticklabels() if label.get_text()]
    assert len(ticks) >= 3
    # Days as "29 Nov" ("01 Dec" on the 1st); a long history in months ("Oct"), the year at January.
    assert all(re.fullmatch(r"\d\d [A-Z][a-z]{2}|[A-Z][a-z]{2}|\d{4}", tick) for tick in ticks), ticks
    if rounds < 30:
        assert all(re.fullmatch(r"\d\d [A-Z][a-z]{2}", tick) for tick in ticks), ticks


def test_the_rendered_dashboard_is_the_drawn_figure_as_png():
    data = dashboard.render(summary(3))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert Image.open(io.BytesIO(data)).size == dashboard.SIZE
    assert np.asarray(Image.open(io.BytesIO(data)).convert("L")).std() > 20


def test_one_round_draws_its_point_and_no_line():
    axes = accuracy(dashboard.draw(summary(1, cv=None)))
    assert [line for line in axes.lines if isinstance(line, Line2D) and not line.get_label().startswith("_")] == []
    [points] = axes.collections
    assert len(points.get_offsets()) == 1
