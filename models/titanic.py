"""Titanic: would a passenger have survived? (XGBoost on the 891 passengers of the training CSV).

Picture: a card with the ship afloat (with a lifeboat) or going down, the verdict and its probability.
Monitoring samples, as the original lab did: survival first, in the data's proportion, then each
feature from the survivors' or the victims' empirical distribution. A few features are drawn
together from one real passenger, so that no combination is impossible: age with title (no
40-year-old "Master"), siblings with parents, and the fare from passengers of the drawn class.
The encoding and the pipelines are in training/titanic (features.py, pipeline.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from common.errors import BadCommand
from common.jobs import FeatureValue, PredictionResult
from common.schemas import ChoiceFeature, ModelSchema, NumericFeature
from models.base import DataSources, Sample, TabularModel
from models.values import parse_named

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from common.feature_store import LocalFeatureStore
    from common.registry import LocalModelRegistry, ModelVersion

TITANIC_TITLES = ("Mr", "Mrs", "Miss", "Master", "Rare")
# These words and no others: /help, the option's description and the error for any other word list them.
SEX_ALIASES = {"f": "female", "woman": "female", "m": "male", "man": "male"}

TITANIC = ModelSchema(
    model="titanic",
    features=(
        NumericFeature("pclass", 1, 3, integer=True, help="ticket class: 1, 2 or 3"),
        ChoiceFeature(
            "sex",
            ("female", "male"),
            help=f"female or male (also {', '.join(SEX_ALIASES)})",
            aliases=SEX_ALIASES,
        ),
        NumericFeature("age", 0.1, 100, "years", help="age in years"),
        NumericFeature("sibsp", 0, 10, integer=True, required=False, default=0, help="siblings and spouses aboard"),
        NumericFeature("parch", 0, 10, integer=True, required=False, default=0, help="parents and children aboard"),
        # The dearest ticket sold was £512.33; nothing was dearer.
        NumericFeature(
            "fare", 0, 600, "£", required=False, help="ticket price in pounds (default: typical for the class)"
        ),
        ChoiceFeature(
            "embarked",
            ("S", "C", "Q"),
            required=False,
            default="S",
            help="port: S (Southampton), C (Cherbourg) or Q (Queenstown)",
            aliases={"southampton": "S", "cherbourg": "C", "queenstown": "Q"},
        ),
        ChoiceFeature(
            "title", TITANIC_TITLES, required=False, help="Mr, Mrs, Miss, Master or Rare (default: from sex and age)"
        ),
    ),
    labels=("died", "survived"),
    example="/titanic pclass=1 sex=female age=29 sibsp=0 parch=0 fare=80 embarked=C",
    aliases={
        "class": "pclass",
        "ticket_class": "pclass",
        "gender": "sex",
        "port": "embarked",
        "siblings": "sibsp",
        "parents": "parch",
        "children": "parch",
    },
)
SEA, SKY, NIGHT, HULL = "#1f4e79", "#cfe2f3", "#3a3f4b", "#2b2b2b"


def titanic_title(sex: str, age: float) -> str:
    """The title a passenger most likely had, when the user gives none."""
    if sex == "male":
        return "Master" if age < 15 else "Mr"
    return "Miss" if age < 18 else "Mrs"


def age_in_words(age: float) -> str:
    """'29', '29.5'; under a year in months ('6 months'), as people say a baby's age."""
    if age >= 1:
        return f"{age:g}"
    months = max(1, round(age * 12))
    return f"{months} month{'s' if months != 1 else ''}"


def passenger_in_words(features: Mapping[str, Any]) -> tuple[str, str]:
    """('1st', 'woman'), ('3rd', 'boy'), ...: how replies and dashboards name a passenger."""
    pclass = {1: "1st", 2: "2nd", 3: "3rd"}.get(int(features.get("pclass") or 3), "3rd")
    person = "woman" if features.get("sex") == "female" else "man"
    age = features.get("age")
    if age is not None and float(age) < 15:
        person = "girl" if person == "woman" else "boy"
    return pclass, person


class Titanic(TabularModel):
    schema = TITANIC
    title = "Titanic"
    summary = "Would a passenger survive? /titanic pclass=1 sex=female age=29"
    help = (
        "Would this passenger have survived the Titanic? "
        "Needed: pclass (1-3), sex (female/f/woman or male/m/man), age.\n"
        "Optional: sibsp, parch (relatives aboard, default 0), fare (£), embarked (S, C or Q), title."
    )
    algorithm = "xgboost"

    def parse(self, arguments: list[str]) -> dict[str, FeatureValue]:
        """`key=value` pairs; required: pclass, sex, age; the rest have defaults."""
        if not arguments:
            raise BadCommand(f"/titanic needs the passenger's details. Example: {TITANIC.example}")
        return parse_named(TITANIC, arguments)

    def reply_text(self, result: PredictionResult) -> str:
        verdict = "would have survived" if result.label == "survived" else "would not have survived"
        return (
            f"Titanic: a {self.passenger(result.features)} {verdict} "
            f"({result.probability:.0%} sure). Model v{result.version}."
        )

    def passenger(self, features: Mapping[str, Any]) -> str:
        """'1st-class woman of 29', '3rd-class boy of 6 months': the reply's and the picture's words."""
        pclass, person = passenger_in_words(features)
        age = features.get("age")
        years = f" of {age_in_words(float(age))}" if age is not None else ""
        return f"{pclass}-class {person}{years}"

    def describe(self, features: Mapping[str, Any]) -> str:
        pclass, person = passenger_in_words(features)
        age = features.get("age")
        years = f", {age_in_words(float(age))}" if age is not None else ""
        relatives = int(features.get("sibsp") or 0) + int(features.get("parch") or 0)
        family = f", {relatives} relative{'s' if relatives != 1 else ''}" if relatives else ", alone"
        fare = f", £{float(features['fare']):.0f}" if features.get("fare") is not None else ""
        return f"{pclass}-class {person}{years}{family}{fare}, from {features.get('embarked', 'S')}"

    def encode(self, rows: Sequence[Mapping[str, FeatureValue]], bundle: Mapping[str, Any]) -> np.ndarray:
        from training.titanic.features import encode

        return encode(rows, bundle["medians"])

    def picture(self, result: PredictionResult, bundle: Mapping[str, Any]) -> Figure:
        import numpy as np
        from matplotlib.figure import Figure
        from matplotlib.patches import Circle, Polygon, Rectangle

        survived = result.label == "survived"
        figure = Figure(figsize=(6, 4), dpi=100)
        scene = figure.add_axes((0, 0.22, 1, 0.78))
        scene.set_xlim(0, 10)
        scene.set_ylim(0, 6)
        scene.axis("off")
        sky = SKY if survived else NIGHT
        scene.add_patch(Rectangle((0, 2), 10, 4, color=sky))
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
        # Who it was, in the text answer's words: a picture forwarded alone still says it. The box
        # (the sky's colour) keeps the stars out of the letters.
        scene.text(
            0.25, 5.75, f"A {self.passenger(result.features)}", fontsize=15, fontweight="bold", va="top",
            color=HULL if survived else "white", bbox={"facecolor": sky, "edgecolor": "none", "pad": 3},
        )  # fmt: skip
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

    def synthesise(self, table: pd.DataFrame, count: int, rng: np.random.Generator) -> list[Sample]:
        """``table``: the cleaned titanic feature table (training/titanic/features.py ``clean``)."""
        survived = rng.random(count) < float(table["survived"].mean())
        groups = {outcome: _Outcome(table[table["survived"] == outcome]) for outcome in (0, 1)}
        return [groups[int(alive)].passenger(rng, bool(alive)) for alive in survived]

    def feature_table(self, store: LocalFeatureStore, sources: DataSources) -> pd.DataFrame:
        from common.settings import TITANIC_SHA256
        from training.titanic.pipeline import feature_pipeline

        return feature_pipeline(sources.data.TITANIC_URL, TITANIC_SHA256, sources.data_dir, store)

    def train(self, table: pd.DataFrame, registry: LocalModelRegistry) -> ModelVersion:
        from training.titanic import pipeline

        options = pipeline.TitanicOptions()
        return pipeline.register(registry, *pipeline.train(table, options), options)


class _Outcome:
    """The survivors or the victims, split once the ways the draws need them."""

    def __init__(self, group: pd.DataFrame) -> None:
        self.group = group.reset_index(drop=True)
        aged = self.group[self.group["age"].notna()]
        self.aged_by_sex = {sex: rows.reset_index(drop=True) for sex, rows in aged.groupby("sex")}
        self.fares_by_class = {int(str(k)): rows.to_numpy() for k, rows in self.group.groupby("pclass")["fare"]}

    def passenger(self, rng: np.random.Generator, survived: bool) -> Sample:
        group = self.group
        pclass = int(_pick(group["pclass"], rng))
        sex = str(_pick(group["sex"], rng))
        # Age and title from one passenger of this outcome and sex whose age is known; siblings and
        # parents from one passenger; the fare from one of the drawn class.
        aged = self.aged_by_sex.get(sex, group[group["age"].notna()])
        person = aged.iloc[int(rng.integers(len(aged)))]
        family = group.iloc[int(rng.integers(len(group)))]
        fares = self.fares_by_class.get(pclass, group["fare"].to_numpy())
        features: dict[str, FeatureValue] = {
            "pclass": pclass,
            "sex": sex,
            "age": float(person["age"]),
            "sibsp": int(family["sibsp"]),
            "parch": int(family["parch"]),
            "fare": float(fares[int(rng.integers(len(fares)))]),
            "embarked": str(_pick(group["embarked"], rng)),
            "title": str(person["title"]),
        }
        return Sample(features, TITANIC.labels[int(survived)])


def _pick(column: pd.Series, rng: np.random.Generator) -> Any:
    """One value of the column's empirical distribution."""
    return column.iloc[int(rng.integers(len(column)))]


def _ship(axes: Axes, *, sinking: bool) -> None:
    """A four-funnel liner; when sinking, tilted bow-down and half under water."""
    import numpy as np
    from matplotlib.patches import Polygon, Rectangle

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


MODEL = Titanic()
