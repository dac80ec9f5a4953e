"""The monitoring dashboard, one PNG per model: what a subscribed chat sees every morning.

Top: the verdict in words (on track, or drifting) with the headline numbers. Left: accuracy over
time (7-day and all-time), the cross-validation accuracy it should reach, the drift zone below
it, and a dashed line where a new model version took over. Right: the confusion matrix of all
history. Bottom: the latest samples with their true label and the model's answer.

matplotlib without pyplot (Figure objects only): safe in a worker thread, no global state.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec

from models import MODELS
from scheduler.metrics import Summary

logger = logging.getLogger(__name__)

WIDTH_IN, HEIGHT_IN, DPI = 12.0, 7.5, 100
SIZE = (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))  # pixels: (width, height)
GOOD, BAD, NEUTRAL, INK, MUTED = "#2e7d32", "#c62828", "#1565c0", "#263238", "#78909c"
VERSION = "#8e24aa"


def render(summary: Summary) -> bytes:
    buffer = io.BytesIO()
    draw(summary).savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def draw(summary: Summary) -> Figure:
    """The dashboard as a Figure (render saves it; tests read its artists)."""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    grid = GridSpec(3, 3, figure=figure, height_ratios=(0.55, 3.3, 2.2), hspace=0.5, wspace=0.35,
                    left=0.06, right=0.97, top=0.96, bottom=0.03)
    _header(figure.add_subplot(grid[0, :]), summary)
    _accuracy(figure.add_subplot(grid[1, :2]), summary)
    _confusion(figure.add_subplot(grid[1, 2]), summary)
    _latest(figure.add_subplot(grid[2, :]), summary)
    return figure


def _header(axes: Axes, summary: Summary) -> None:
    axes.axis("off")
    now = summary.now
    heading = f"{title(summary.model)} monitoring · {now:%a %d %b %Y}"
    axes.text(0, 1.0, heading, fontsize=20, fontweight="bold", color=INK, va="top", transform=axes.transAxes)
    version = f"model v{summary.version}" if summary.version is not None else "no model registered"
    stats = [version]
    if summary.window_accuracy is not None:
        stats.append(f"last 7 days {summary.window_accuracy:.0%} ({summary.window_correct}/{summary.window_total})")
    if summary.accuracy is not None:
        stats.append(f"all time {summary.accuracy:.0%} ({summary.correct}/{summary.total})")
    if summary.cv_accuracy is not None:
        stats.append(f"cross-validation {summary.cv_accuracy:.0%}")
    axes.text(0, 0.0, "   ·   ".join(stats), fontsize=12, color=MUTED, transform=axes.transAxes)
    verdict, colour = _verdict(summary)
    axes.text(0.985, 0.62, verdict, fontsize=14, fontweight="bold", color="white", ha="right", va="center",
              transform=axes.transAxes, bbox={"boxstyle": "round,pad=0.5", "facecolor": colour, "edgecolor": "none"})


def _verdict(summary: Summary) -> tuple[str, str]:
    if summary.drifting:
        return f"⚠ drift: {(summary.shortfall or 0) * 100:.0f} points below CV", BAD
    if summary.shortfall is None:
        return "no recent samples", MUTED
    return "✓ on track", GOOD


def _accuracy(axes: Axes, summary: Summary) -> None:
    zone = summary.now.tzinfo
    points = summary.points
    times = [point.time.astimezone(zone) for point in points]
    axes.set_title("Accuracy over time", loc="left", fontsize=12, color=INK)
    start = times[0] if times else summary.now
    end = times[-1] if times else summary.now
    # A short history sits in the middle of a few days; a long one fills the width.
    pad = max(timedelta(days=1.5) - (end - start) / 2, (end - start) * 0.02)
    # matplotlib's date numbers (days), so that every call below gets plain floats.
    left, right = float(mdates.date2num(start - pad)), float(mdates.date2num(end + pad))
    x = [float(mdates.date2num(time)) for time in times]
    if times:
        _promise(axes, summary, x, left, right)
        colours = [GOOD if p.correct == p.total else BAD if p.correct == 0 else "#f9a825" for p in points]
        axes.scatter(x, [p.correct / p.total for p in points], c=colours, s=20, zorder=3, alpha=0.75,
                     label="each round")
    if len(points) > 1:  # a line through one point is not drawn: no line, no legend entry
        rolling, cumulative = [p.rolling for p in points], [p.cumulative for p in points]
        # Within the first 7 days the two are one line (the thin one hidden under the thick): one entry.
        same = rolling == cumulative
        axes.plot(x, rolling, color=NEUTRAL, linewidth=2.5, label="last 7 days = all time" if same else "last 7 days")
        if not same:
            axes.plot(x, cumulative, color=INK, linewidth=1, alpha=0.6, label="all time")
    for when, version in summary.version_changes:
        at = float(mdates.date2num(when))
        axes.axvline(at, color=VERSION, linestyle="--", linewidth=1.5, zorder=2)
        axes.text(at, 1.11, f" v{version}", color=VERSION, fontweight="bold", fontsize=10, va="center")
    axes.set_xlim(left, right)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8, tz=zone)
    axes.xaxis.set_major_locator(locator)
    # Days as "01 Dec", no offset: the offset ("2026-Dec") sat at the axis' end beside the legend.
    formats = ["%Y", "%b", "%d %b", "%H:%M", "%H:%M", "%S.%f"]
    zero_formats = ["", "%Y", "%d %b", "%d %b", "%H:%M", "%H:%M"]
    axes.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(locator, tz=zone, formats=formats, zero_formats=zero_formats, show_offset=False)
    )
    axes.set_ylim(-0.05, 1.18)  # headroom above 100% for the version labels
    axes.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    axes.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axes.grid(alpha=0.25)
    axes.spines[["top", "right"]].set_visible(False)
    if axes.get_legend_handles_labels()[0]:  # no rounds yet: nothing drawn, no legend
        axes.legend(loc="upper left", bbox_to_anchor=(-0.01, -0.08), fontsize=8, ncol=5, frameon=False)


def _promise(axes: Axes, summary: Summary, times: list[float], left: float, right: float) -> None:
    """Each version's cross-validation accuracy as a step line, and the drift zone below it."""
    promised = [summary.cv_by_version.get(point.version, np.nan) for point in summary.points]
    if all(np.isnan(promised)):
        return
    edges = [left, *times[1:], right]
    values = [*promised, promised[-1]]
    axes.step(edges, values, where="post", color=MUTED, linestyle=":", linewidth=1.5, label="cross-validation")
    floor = [max(value - summary.threshold, 0.0) for value in values]
    if np.nanmax(floor) > 0:  # a zone of no height is not drawn, nor listed
        axes.fill_between(edges, 0, floor, step="post", color=BAD, alpha=0.07, linewidth=0, label="drift zone")


def _confusion(axes: Axes, summary: Summary) -> None:
    values = np.asarray(summary.confusion)
    labels = list(summary.labels)
    axes.imshow(values, cmap="Blues", vmin=0, vmax=max(int(values.max()), 1))
    totals = values.sum(axis=1)
    for (row, column), count in np.ndenumerate(values):
        share = f"\n{count / totals[row]:.0%}" if totals[row] else ""
        colour = "white" if count > values.max() / 2 else INK
        axes.text(column, row, f"{count}{share}", ha="center", va="center", color=colour, fontsize=10)
    axes.set_xticks(range(len(labels)), labels, fontsize=9)
    axes.set_yticks(range(len(labels)), labels, fontsize=9)
    axes.set_xlabel("predicted", fontsize=9)
    axes.set_ylabel("actual", fontsize=9)
    samples = "1 sample" if summary.total == 1 else f"all {summary.total} samples"
    axes.set_title(f"Confusion, {samples}", loc="left", fontsize=12, color=INK)


def _latest(axes: Axes, summary: Summary) -> None:
    axes.axis("off")
    axes.set_title("Latest predictions", loc="left", fontsize=12, color=INK)
    columns = (0.0, 0.13, 0.56, 0.70, 0.84, 0.95)
    header = ("when", "sample", "actually", "predicted", "sure", "")
    rows = len(summary.latest) + 1
    step = 1.0 / max(rows, 6)
    for x, text in zip(columns, header, strict=True):
        axes.text(x, 1 - step / 2, text, fontsize=10, color=MUTED, fontweight="bold", va="center",
                  transform=axes.transAxes)
    zone = summary.now.tzinfo
    newest = summary.latest[0]["round"] if summary.latest else None
    for i, record in enumerate(summary.latest, start=1):
        y = 1 - step * (i + 0.5)
        hit = record["label"] == record["prediction"]
        if i % 2:
            axes.axhspan(y - step / 2, y + step / 2, color="#eceff1", zorder=0)
        when = datetime.fromisoformat(record["round"]).astimezone(zone)
        cells = (f"{when:%d %b %H:%M}", describe(summary.model, record.get("features", {})), record["label"],
                 record["prediction"], f"{float(record.get('probability', 0)):.0%}")
        weight = "bold" if record["round"] == newest else "normal"  # this round's samples stand out
        for x, text in zip(columns, cells, strict=False):
            axes.text(x, y, text, fontsize=10, color=INK, va="center", fontweight=weight, transform=axes.transAxes)
        axes.text(columns[-1], y, "✓" if hit else "✗", fontsize=13, fontweight="bold", va="center",
                  color=GOOD if hit else BAD, transform=axes.transAxes)
    axes.set_ylim(0, 1)


def title(model: str) -> str:
    """The model's name as people read it ("Iris"); a model this process does not know keeps its name."""
    return MODELS[model].title if model in MODELS else model


def describe(model: str, features: dict[str, Any]) -> str:
    """A sample in a few words, for the table."""
    return MODELS[model].describe(features) if model in MODELS else ", ".join(f"{k} {v}" for k, v in features.items())
