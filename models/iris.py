"""Iris: the species of a flower from four measurements in cm (KNN on scikit-learn's bundled data).

Picture: the sample as a star among the training flowers, in the petal and sepal planes.
Monitoring samples: the species first, in the data's proportions, then the four measurements from
a normal distribution fitted to that species (means and covariance, so long petals stay wide),
redrawn until they fall inside the range that species shows in the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from common.errors import BadCommand
from common.jobs import FeatureValue, PredictionResult
from common.schemas import ModelSchema, NumericFeature
from models.base import DataSources, Sample, TabularModel
from models.values import parse_named, parse_positional, split_values

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure

    from common.feature_store import LocalFeatureStore
    from common.registry import LocalModelRegistry, ModelVersion

IRIS = ModelSchema(
    model="iris",
    features=(
        # Ranges: the data's own (4.3-7.9, 2.0-4.4, 1.0-6.9, 0.1-2.5 cm) widened by a margin.
        NumericFeature("sepal_length", 1.0, 12.0, "cm", help="sepal length"),
        NumericFeature("sepal_width", 0.5, 8.0, "cm", help="sepal width"),
        NumericFeature("petal_length", 0.1, 12.0, "cm", help="petal length"),
        NumericFeature("petal_width", 0.05, 5.0, "cm", help="petal width"),
    ),
    labels=("setosa", "versicolor", "virginica"),
    example="/iris 5.1 3.5 1.4 0.2",
)
SPECIES_COLOURS = {"setosa": "#e07a5f", "versicolor": "#3d85c6", "virginica": "#6aa84f"}
MAX_REDRAWS = 1000


class Iris(TabularModel):
    schema = IRIS
    title = "Iris"
    summary = "Iris species from 4 measurements in cm, e.g. /iris 5.1 3.5 1.4 0.2"
    help = "Which iris species? Sepal length, sepal width, petal length, petal width in cm."
    algorithm = "knn"

    def parse(self, arguments: list[str]) -> dict[str, FeatureValue]:
        """Four measurements in cm, by position (`5.1 3.5 1.4 0.2`, `5,1 3,5 1,4 0,2`) or by name (`petal_width=0.2`).

        The comma: a separator, or a decimal comma where that is the only reading (models.values.split_values).
        """
        tokens = split_values(arguments, len(IRIS.features))
        if tokens and all("=" in token for token in tokens):
            return parse_named(IRIS, tokens)
        if any("=" in token for token in tokens):
            raise BadCommand(
                f"Give all four measurements by position or all by name, not mixed. Example: {IRIS.example}"
            )
        described = "4 measurements in cm (sepal length, sepal width, petal length, petal width)"
        return parse_positional(IRIS, arguments, described)

    def reply_text(self, result: PredictionResult) -> str:
        ranked = sorted(result.probabilities.items(), key=lambda kv: -kv[1])
        others = ", ".join(f"{label} {p:.0%}" for label, p in ranked if label != result.label)
        return f"Iris: {result.label} ({result.probability:.0%} sure; {others}). Model v{result.version}."

    def describe(self, features: Mapping[str, Any]) -> str:
        return (
            f"sepal {features['sepal_length']:.1f}×{features['sepal_width']:.1f} cm, "
            f"petal {features['petal_length']:.1f}×{features['petal_width']:.1f} cm"
        )

    def encode(self, rows: Sequence[Mapping[str, FeatureValue]], bundle: Mapping[str, Any]) -> np.ndarray:
        import numpy as np

        return np.array([[float(row[name]) for name in IRIS.names] for row in rows])  # type: ignore[arg-type]

    def picture(self, result: PredictionResult, bundle: Mapping[str, Any]) -> Figure:
        import numpy as np
        from matplotlib.figure import Figure

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
                [sample_x], [sample_y], marker="*", s=380, color=SPECIES_COLOURS[result.label],
                edgecolor="black", linewidth=1.2, zorder=3, label="your flower",
            )  # fmt: skip
            axes.set_xlabel(f"{x_name.replace('_', ' ')} (cm)")
            axes.set_ylabel(f"{y_name.replace('_', ' ')} (cm)")
            axes.grid(alpha=0.25)
            if index == 0:
                axes.legend(fontsize=8, loc="upper left")
        figure.suptitle(
            f"Iris {result.label}  ({result.probability:.0%} sure, model v{result.version})",
            fontsize=14, color=SPECIES_COLOURS[result.label], fontweight="bold",
        )  # fmt: skip
        figure.tight_layout()
        return figure

    def synthesise(self, table: pd.DataFrame, count: int, rng: np.random.Generator) -> list[Sample]:
        """``table``: the iris feature table (the four measurements and ``species``)."""
        import numpy as np

        names = list(IRIS.names)
        balance = table["species"].value_counts(normalize=True).reindex(list(IRIS.labels), fill_value=0.0)
        species = rng.choice(balance.index.to_numpy(), size=count, p=balance.to_numpy())
        shapes = {}
        for label in set(species):
            rows = table.loc[table["species"] == label, names].to_numpy(dtype=float)
            shapes[label] = (rows.mean(axis=0), np.cov(rows, rowvar=False), rows.min(axis=0), rows.max(axis=0))
        samples = []
        for label in species:
            mean, covariance, low, high = shapes[label]
            for _ in range(MAX_REDRAWS):
                # The data has one decimal (millimetres); so do the samples.
                values = np.round(rng.multivariate_normal(mean, covariance), 1)
                if np.all(values >= low) and np.all(values <= high):
                    break
            else:  # unreachable for real data; a degenerate table falls back to its bounds
                values = np.clip(values, low, high)
            samples.append(Sample({n: float(v) for n, v in zip(names, values, strict=True)}, str(label)))
        return samples

    def feature_table(self, store: LocalFeatureStore, sources: DataSources) -> pd.DataFrame:
        from training.iris.pipeline import feature_pipeline

        return feature_pipeline(store)

    def train(self, table: pd.DataFrame, registry: LocalModelRegistry) -> ModelVersion:
        from training.iris import pipeline

        options = pipeline.IrisOptions()
        return pipeline.register(registry, *pipeline.train(table, options), options)


MODEL = Iris()
