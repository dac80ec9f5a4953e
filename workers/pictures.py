"""The picture sent with each prediction (PNG, matplotlib without pyplot: safe in any thread).

Iris: the sample as a star among the training flowers, in the petal and sepal planes.
Titanic: a card with the ship afloat (with a lifeboat) or going down, the verdict and its probability.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Polygon, Rectangle

from common.jobs import PredictionResult
from common.schemas import IRIS

SPECIES_COLOURS = {"setosa": "#e07a5f", "versicolor": "#3d85c6", "virginica": "#6aa84f"}
SEA, SKY, HULL = "#1f4e79", "#cfe2f3", "#2b2b2b"


def render(result: PredictionResult, bundle: Mapping[str, Any]) -> bytes:
    figure = _iris(result, bundle) if result.model == "iris" else _titanic(result)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _iris(result: PredictionResult, bundle: Mapping[str, Any]) -> Figure:
    figure = Figure(figsize=(8, 4), dpi=100)
    reference = bundle["reference"]
    planes = (("petal_length", "petal_width"), ("sepal_length", "sepal_width"))
    for index, (x_name, y_name) in enumerate(planes):
        axes = figure.add_subplot(1, 2, index + 1)
        x_column, y_column = IRIS.names.index(x_name), IRIS.names.index(y_name)
        for label_index, label in enumerate(IRIS.labels):
            rows = reference["features"][np.asarray(reference["labels"]) == label_index]
            axes.scatter(
                rows[:, x_column], rows[:, y_column], s=14, alpha=0.55, color=SPECIES_COLOURS[label], label=label
            )
        sample_x, sample_y = float(result.features[x_name]), float(result.features[y_name])  # type: ignore[arg-type]
        axes.scatter(
            [sample_x],
            [sample_y],
            marker="*",
            s=380,
            color=SPECIES_COLOURS[result.label],
            edgecolor="black",
            linewidth=1.2,
            zorder=3,
            label="your flower",
        )
        axes.set_xlabel(f"{x_name.replace('_', ' ')} (cm)")
        axes.set_ylabel(f"{y_name.replace('_', ' ')} (cm)")
        axes.grid(alpha=0.25)
        if index == 0:
            axes.legend(fontsize=8, loc="upper left")
    figure.suptitle(
        f"Iris {result.label}  ({result.probability:.0%} sure, model v{result.version})",
        fontsize=14,
        color=SPECIES_COLOURS[result.label],
        fontweight="bold",
    )
    figure.tight_layout()
    return figure


def _titanic(result: PredictionResult) -> Figure:
    survived = result.label == "survived"
    figure = Figure(figsize=(6, 4), dpi=100)
    scene = figure.add_axes((0, 0.22, 1, 0.78))
    scene.set_xlim(0, 10)
    scene.set_ylim(0, 6)
    scene.axis("off")
    scene.add_patch(Rectangle((0, 2), 10, 4, color=SKY if survived else "#3a3f4b"))
    scene.add_patch(Rectangle((0, 0), 10, 2.2, color=SEA))
    _ship(scene, sinking=not survived)
    if survived:
        scene.add_patch(Polygon([(7.2, 2.0), (9.2, 2.0), (8.9, 1.6), (7.5, 1.6)], color="#c55a11"))
        for x in (7.8, 8.2, 8.6):
            scene.add_patch(Circle((x, 2.2), 0.13, color="#f2d0a9"))
        scene.add_patch(Circle((8.8, 5.2), 0.45, color="#ffd966"))
    else:
        rng = np.random.default_rng(0)
        scene.scatter(rng.uniform(0, 10, 60), rng.uniform(3, 6, 60), s=2, color="white")
    verdict = figure.add_axes((0, 0, 1, 0.22))
    verdict.axis("off")
    colour = "#38761d" if survived else "#990000"
    verdict.text(
        0.03, 0.62, "Survived" if survived else "Did not survive", fontsize=20, fontweight="bold", color=colour
    )
    verdict.barh([0.22], [result.probability * 0.6], height=0.18, left=0.03, color=colour)
    verdict.barh([0.22], [0.6], height=0.18, left=0.03, fill=False, edgecolor="black")
    verdict.text(0.66, 0.17, f"{result.probability:.0%} sure  (model v{result.version})", fontsize=11)
    verdict.set_xlim(0, 1)
    verdict.set_ylim(0, 1)
    return figure


def _ship(axes: Axes, *, sinking: bool) -> None:
    """A four-funnel liner; when sinking, tilted bow-down and half under water."""
    hull = np.array([(1.0, 2.0), (6.6, 2.0), (7.0, 3.0), (0.6, 3.0)])
    deck = np.array([(1.4, 3.0), (6.0, 3.0), (6.0, 3.5), (1.4, 3.5)])
    funnels = [np.array([(x, 3.5), (x + 0.4, 3.5), (x + 0.45, 4.6), (x + 0.05, 4.6)]) for x in (2.0, 3.0, 4.0, 5.0)]
    shapes = [(hull, HULL), (deck, "#f3f3f3"), *((f, "#e69138") for f in funnels)]
    angle = np.radians(-24 if sinking else 0)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    offset = np.array([0.6, -1.2]) if sinking else np.array([0.0, 0.0])
    for points, colour in shapes:
        moved = (points - (4, 2)) @ rotation.T + (4, 2) + offset
        axes.add_patch(Polygon(moved, color=colour, zorder=2))
    axes.add_patch(Rectangle((0, 0), 10, 2.0, color=SEA, alpha=0.8 if sinking else 0.0, zorder=3))
