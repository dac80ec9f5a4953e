"""A third tabular model, defined here and nowhere else, served end to end through EXTRA_MODELS.

The processes are the real ones (`python -m workers`, `python -m bot console`, `python -m scheduler`),
each started with EXTRA_MODELS=tests.test_model_registry, as an operator would name a module of
their own: `/tiny` is answered with its text and picture, listed by /help, and monitored by a
round. No other file knows the model.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis
from matplotlib.figure import Figure

from bot.parsing import COMMANDS
from common.errors import StartupError
from common.feature_store import LocalFeatureStore
from common.jobs import FeatureValue, PredictionResult
from common.outbox import stream_name
from common.registry import LocalModelRegistry, ModelVersion
from common.schemas import ModelSchema, NumericFeature
from common.settings import DataSettings
from models import MODELS, DataSources, Sample, TabularModel
from models.registry import BUILT_IN_COMMANDS, register
from tests.conftest import REPO
from tests.helpers import stop_process

THIS_MODULE = "tests.test_model_registry"
TINY = ModelSchema(
    model="tiny",
    features=(NumericFeature("x", 0, 10, help="a number from 0 to 10"),),
    labels=("low", "high"),
    example="/tiny x=7",
)


@dataclass(frozen=True)
class TinyOptions:
    folds: int = 3
    seed: int = 0


class Tiny(TabularModel):
    """Is x at least 5? A decision tree learns it from 41 numbers."""

    schema = TINY
    title = "Tiny"
    summary = "Is a number from 0 to 10 low or high? /tiny x=7"
    help = "Is x (0-10) low or high? A model that lives in one test module."

    def reply_text(self, result: PredictionResult) -> str:
        sure = f"{result.probability:.0%} sure"
        return f"Tiny: {result.features['x']:g} is {result.label} ({sure}). Model v{result.version}."

    def encode(self, rows: Sequence[Mapping[str, FeatureValue]], bundle: Mapping[str, Any]) -> np.ndarray:
        return np.array([[float(row["x"])] for row in rows])  # type: ignore[arg-type]

    def picture(self, result: PredictionResult, bundle: Mapping[str, Any]) -> Figure:
        figure = Figure(figsize=(3, 2), dpi=50)
        figure.add_subplot().bar(list(result.probabilities), list(result.probabilities.values()))
        return figure

    def synthesise(self, table: pd.DataFrame, count: int, rng: np.random.Generator) -> list[Sample]:
        rows = table.iloc[rng.integers(len(table), size=count)]
        return [Sample({"x": float(row.x)}, str(row.label)) for row in rows.itertuples()]

    def feature_table(self, store: LocalFeatureStore, sources: DataSources) -> pd.DataFrame:
        xs = np.linspace(0, 10, 41)
        table = pd.DataFrame({"x": xs, "label": np.where(xs >= 5, "high", "low")})
        store.write_table(self.name, table)
        return table

    def train(self, table: pd.DataFrame, registry: LocalModelRegistry) -> ModelVersion:
        from sklearn.tree import DecisionTreeClassifier

        from training.evaluation import cross_validate
        from training.registration import register_classifier

        options = TinyOptions()
        features = table[["x"]].to_numpy(dtype=float)
        labels = table["label"].map(TINY.labels.index).to_numpy()
        estimator = DecisionTreeClassifier(random_state=options.seed)
        report = cross_validate(estimator, features, labels, folds=options.folds, seed=options.seed)
        bundle = {"model": estimator.fit(features, labels), "labels": list(TINY.labels)}
        return register_classifier(registry, TINY, bundle, report, options, algorithm="tree")


MODEL = Tiny()


@pytest.fixture
def tiny_env(process_env: dict[str, str], model_dir: Path, tmp_path: Path) -> dict[str, str]:
    """The processes' environment with Iris, Titanic and a trained Tiny in MODEL_DIR, and EXTRA_MODELS set."""
    models = tmp_path / "models"
    shutil.copytree(model_dir, models)
    store = LocalFeatureStore(tmp_path / "tiny-features")
    MODEL.train(MODEL.feature_table(store, DataSources(tmp_path, DataSettings())), LocalModelRegistry(models))
    return {**process_env, "MODEL_DIR": str(models), "EXTRA_MODELS": THIS_MODULE}


@pytest.fixture
def tiny_worker(tiny_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-m", "workers", "--queues", "predict,render"], env=tiny_env, cwd=REPO)
    yield process
    stop_process(process)


def run(module: str, *args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        input=stdin,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_this_process_knows_only_the_built_in_models():
    """Defining a model registers nothing: only EXTRA_MODELS (or a line in models/registry.py) does."""
    assert list(MODELS) == ["iris", "titanic"]


def named(name: str) -> Tiny:
    """A Tiny whose schema (and so command and registry name) is ``name``."""
    model = Tiny()
    model.schema = dataclasses.replace(TINY, model=name)
    return model


def test_the_registry_knows_every_built_in_command_of_the_parser():
    assert BUILT_IN_COMMANDS == COMMANDS


@pytest.mark.parametrize("name", sorted(BUILT_IN_COMMANDS))
def test_a_model_named_like_a_built_in_command_is_refused_with_the_taken_names(name: str):
    with pytest.raises(StartupError) as raised:
        register(named(name))
    assert str(raised.value) == (
        f"the model name '{name}' is a built-in command (/{name}): give the model another name "
        "(taken: cancel, help, monitor, settings, start, stats, status, subscribe, transcribe, translate, "
        "unsubscribe)"
    )
    assert list(MODELS) == ["iris", "titanic"]


@pytest.mark.parametrize("name", ["Tiny", "tiny-2", "t" * 33, ""])
def test_a_model_name_that_cannot_be_a_chat_command_is_refused(name: str):
    with pytest.raises(StartupError, match="cannot be a command: use a-z and _ \\(at most 32\\)"):
        register(named(name))
    assert list(MODELS) == ["iris", "titanic"]


def test_another_model_of_a_taken_name_is_refused_and_the_same_one_again_is_harmless():
    register(MODELS["iris"])
    with pytest.raises(StartupError, match="two models are called 'iris'"):
        register(named("iris"))
    assert list(MODELS) == ["iris", "titanic"]


@pytest.mark.slow
def test_a_model_named_in_extra_models_is_answered_listed_and_monitored(
    tiny_env: dict[str, str], tiny_worker: subprocess.Popen[bytes], connection: redis.Redis, tmp_path: Path
):
    """/tiny through the console and a real worker: text, then picture; /help lists it; a round monitors it."""
    done = run("bot", "console", env=tiny_env, stdin="/tiny x=7\n/tiny x=11\n/help\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Tiny: 7 is high (100% sure). Model v1." in out
    assert "x (a number from 0 to 10) must be between 0 and 10; 11 is out of range. Example: /tiny x=7" in out
    assert "/tiny x=7\n    Is x (0-10) low or high? A model that lives in one test module." in out
    assert "/subscribe <iris|titanic|tiny|all>" in out and "/monitor <iris|titanic|tiny>" in out
    [picture] = [
        Path(line.split("picture written to ", 1)[1]) for line in out.splitlines() if "picture written" in line
    ]
    assert picture.name.startswith("tiny-") and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    monitored = run("scheduler", "--run-now", env={**tiny_env, "TELEGRAM_MONITOR_CHATS": "-100777"})
    assert monitored.returncode == 0, monitored.stderr
    posts = [json.loads(fields[b"data"]) for _, fields in connection.xrange(stream_name("telegram"))]
    assert sorted(post["filename"] for post in posts) == [
        "iris-dashboard.png",
        "tiny-dashboard.png",
        "titanic-dashboard.png",
    ]
    tiny_post = next(post for post in posts if post["filename"] == "tiny-dashboard.png")
    assert tiny_post["text"].startswith("Tiny monitoring") and tiny_post["reply"]["chat"] == "-100777"
    [record] = LocalFeatureStore(tmp_path / "data" / "features").read_history("tiny")
    assert record["label"] in TINY.labels and record["prediction"] in TINY.labels and record["model_version"] == 1


def test_extra_models_naming_a_missing_module_stops_the_start_naming_the_variable(tiny_env: dict[str, str]):
    """A typo in EXTRA_MODELS is a configuration error (exit 2) that says which variable and module."""
    bad = {**tiny_env, "EXTRA_MODELS": "tests.no_such_model"}
    done = run("bot", "console", env=bad, stdin="/help\n")
    assert done.returncode == 2
    assert "EXTRA_MODELS names tests.no_such_model, which cannot be imported" in done.stderr
    assert "EXTRA_MODELS" in run("bot", "console", env={**tiny_env, "EXTRA_MODELS": "not a module"}).stderr
