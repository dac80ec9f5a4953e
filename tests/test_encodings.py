"""Golden vectors: a passenger or flower typed as a chat command reaches the model as the same vector
that training built from its row of the data, and every feature a user gives changes that vector.

The served vectors are caught where the worker hands them to the model: a registered version whose
bundle holds a :class:`RecordingModel` instead of the estimator, so the chat text goes through the
real parsing, queue, RQ worker, model cache and encoding.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import joblib
import numpy as np
import pandas as pd
import pytest
import redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from bot.commands import Commands
from common.feature_store import LocalFeatureStore
from common.jobs import ReplyTo
from common.queues import PREDICT, JobQueue
from common.registry import LocalModelRegistry
from models.cache import ModelCache
from training.iris import pipeline as iris
from training.titanic.features import clean, encode
from workers import context

# Passenger 2 of the CSV: "Cumings, Mrs. John Bradley", 1st class, 38, one sibling or spouse, £71.2833, Cherbourg.
CUMINGS = "/titanic pclass=1 sex=female age=38 sibsp=1 parch=0 fare=71.2833 embarked=C title=Mrs"
CUMINGS_VECTOR = [
    1, 1, 38, 1, 0, 71.2833, np.log1p(71.2833), 2, 0, 71.2833 / 2,  # pclass .. fare_per_person
    0, 1, 0, 0, 0,  # title: Mr, Mrs, Miss, Master, Rare
    0, 1, 0,  # embarked: S, C, Q
]


class RecordingModel:
    """Stands in for a trained estimator: keeps every matrix it is asked about, answers "all labels equal"."""

    seen: ClassVar[list[np.ndarray]] = []

    def __init__(self, labels: int) -> None:
        self.labels = labels

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        RecordingModel.seen.append(np.asarray(features, dtype=float))
        return np.full((len(features), self.labels), 1 / self.labels)


@pytest.fixture
def served(connection: redis.Redis, model_dir: Path, tmp_path: Path) -> Callable[[str], list[np.ndarray]]:
    """``served(model)`` -> a function from chat commands to the vectors the worker gave that model."""

    def serve(model: str) -> Callable[..., list[np.ndarray]]:
        registry = LocalModelRegistry(tmp_path / "models")
        shutil.copytree(model_dir, registry.root)
        version = registry.current(model)
        assert version is not None
        bundle: dict[str, Any] = joblib.load(registry.path(model, version.version) / "model.joblib")
        bundle["model"] = RecordingModel(len(bundle["labels"]))
        registry.register(model, lambda d: joblib.dump(bundle, d / "model.joblib"), metrics={}, feature_schema=[])
        context.install(context.WorkerContext(models=ModelCache(registry)))
        commands = Commands(JobQueue(connection))

        def vectors(*texts: str) -> list[np.ndarray]:
            RecordingModel.seen.clear()
            for number, text in enumerate(texts):
                answer = commands.handle(text, ReplyTo(outbox="golden", chat=str(number), user=str(number)))
                assert answer.job_id, answer.text
            SimpleWorker([PREDICT], connection=connection, serializer=JSONSerializer).work(burst=True)
            assert len(RecordingModel.seen) == len(texts), "every command reached the model"
            return [matrix[0] for matrix in RecordingModel.seen]

        return vectors

    return serve


def test_a_titanic_row_and_the_same_passenger_typed_in_chat_give_the_golden_vector(titanic_csv, served):
    """Training's vector of the CSV row, the served vector of the chat command and the golden one are equal."""
    passengers = clean(pd.read_csv(titanic_csv))
    row = passengers.drop(columns="survived").to_dict("records")[1]
    medians = {"age_by_title": {}, "fare_by_class": {}}  # nothing is missing: no median is used
    np.testing.assert_allclose(encode([row], medians)[0], CUMINGS_VECTOR, rtol=1e-6)
    [chat] = served("titanic")(CUMINGS)
    np.testing.assert_allclose(chat, CUMINGS_VECTOR, rtol=1e-6)


@pytest.mark.parametrize(
    ("changed", "columns"),
    [
        ("pclass=3", {"pclass": 3}),
        ("sex=male", {"female": 0}),
        ("age=60", {"age": 60}),
        ("sibsp=0", {"sibsp": 0, "family_size": 1, "alone": 1, "fare_per_person": 71.2833}),
        ("parch=2", {"parch": 2, "family_size": 4, "fare_per_person": 71.2833 / 4}),
        ("fare=10", {"fare": 10, "log_fare": np.log1p(10), "fare_per_person": 5}),
        ("embarked=Q", {"embarked_C": 0, "embarked_Q": 1}),
        ("title=Rare", {"title_Mrs": 0, "title_Rare": 1}),
    ],
)
def test_every_titanic_feature_a_user_gives_reaches_the_model(served, changed, columns):
    """One feature changed in the command changes exactly its columns of the served vector."""
    from training.titanic.features import COLUMNS

    key = changed.split("=")[0]
    text = " ".join(changed if word.startswith(f"{key}=") else word for word in CUMINGS.split())
    base, variant = served("titanic")(CUMINGS, text)
    expected = np.array(CUMINGS_VECTOR, dtype=float)
    for name, value in columns.items():
        expected[COLUMNS.index(name)] = value
    np.testing.assert_allclose(base, CUMINGS_VECTOR, rtol=1e-6)
    np.testing.assert_allclose(variant, expected, rtol=1e-6)


def test_an_iris_row_and_the_same_flower_typed_in_chat_give_the_golden_vector(tmp_path, served):
    """The first flower of the data, typed in order, reaches the model as its row; the order of the four counts."""
    flowers = iris.feature_pipeline(LocalFeatureStore(tmp_path / "features"))
    assert flowers[["sepal_length", "sepal_width", "petal_length", "petal_width"]].iloc[0].tolist() == [
        5.1, 3.5, 1.4, 0.2]
    first, distinct, named = served("iris")(
        "/iris 5.1 3.5 1.4 0.2", "/iris 1 2 3 4", "/iris petal_width=4 sepal_length=1 petal_length=3 sepal_width=2"
    )
    np.testing.assert_allclose(first, [5.1, 3.5, 1.4, 0.2])
    np.testing.assert_allclose(distinct, [1, 2, 3, 4])
    np.testing.assert_allclose(named, [1, 2, 3, 4])
