"""Synthetic monitoring samples look like the data: class balance, per-class ranges and shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.feature_store import LocalFeatureStore
from common.schemas import ChoiceFeature, NumericFeature
from models import iris, titanic
from models.iris import IRIS
from models.titanic import TITANIC
from scheduler.synthesis import round_rng, synthesise
from training.iris.pipeline import feature_pipeline as iris_features
from training.titanic.features import clean

DRAWS = 4000
synthesise_iris = iris.MODEL.synthesise
synthesise_titanic = titanic.MODEL.synthesise


@pytest.fixture(scope="module")
def flowers(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return iris_features(LocalFeatureStore(tmp_path_factory.mktemp("features")))


@pytest.fixture(scope="module")
def passengers(titanic_csv: Path) -> pd.DataFrame:
    return clean(pd.read_csv(titanic_csv))


def as_frame(samples: list) -> pd.DataFrame:
    return pd.DataFrame([{**sample.features, "label": sample.label} for sample in samples])


def test_iris_samples_keep_the_species_balance_and_each_species_ranges(flowers):
    """4000 flowers: each species about a third, every measurement inside that species' range in the data."""
    drawn = as_frame(synthesise_iris(flowers, DRAWS, np.random.default_rng(7)))
    shares = drawn["label"].value_counts(normalize=True)
    assert set(shares.index) == set(IRIS.labels)
    for label in IRIS.labels:
        # 1/3 with a binomial standard error of 0.0075: 0.03 is four of them.
        assert abs(shares[label] - 1 / 3) < 0.03, shares
        real = flowers[flowers["species"] == label]
        fake = drawn[drawn["label"] == label]
        for name in IRIS.names:
            assert fake[name].min() >= real[name].min() and fake[name].max() <= real[name].max(), (label, name)
            # Same centre (within a quarter of the spread) and a similar spread.
            assert abs(fake[name].mean() - real[name].mean()) < 0.25 * real[name].std(), (label, name)
            assert 0.6 < fake[name].std() / real[name].std() < 1.3, (label, name)
    # Correlations survive: long petals are wide petals, within each species too.
    virginica = drawn[drawn["label"] == "virginica"]
    assert np.corrcoef(virginica["petal_length"], virginica["petal_width"])[0, 1] > 0.1
    # Millimetre precision, like the data.
    assert np.allclose(drawn[list(IRIS.names)] * 10, np.round(drawn[list(IRIS.names)] * 10))


def test_titanic_samples_keep_the_survival_rate_and_the_survivors_and_victims_profiles(passengers):
    """Survival first (38% as in the data), then features from survivors' or victims' own distributions."""
    drawn = as_frame(synthesise_titanic(passengers, DRAWS, np.random.default_rng(11)))
    real_rate = passengers["survived"].mean()
    fake_rate = (drawn["label"] == "survived").mean()
    assert abs(fake_rate - real_rate) < 0.03, (fake_rate, real_rate)
    for outcome, label in enumerate(TITANIC.labels):
        real = passengers[passengers["survived"] == outcome]
        fake = drawn[drawn["label"] == label]
        # Women survived far more often: the share of women per outcome must carry over.
        assert abs((fake["sex"] == "female").mean() - (real["sex"] == "female").mean()) < 0.04, label
        for pclass in (1, 2, 3):
            assert abs((fake["pclass"] == pclass).mean() - (real["pclass"] == pclass).mean()) < 0.04, (label, pclass)
        for name in ("age", "sibsp", "parch", "fare"):
            assert fake[name].min() >= real[name].min() and fake[name].max() <= real[name].max(), (label, name)
        assert abs(fake["fare"].median() - real["fare"].median()) < 0.2 * real["fare"].median() + 1, label
    survivors, victims = drawn[drawn["label"] == "survived"], drawn[drawn["label"] == "died"]
    assert (survivors["sex"] == "female").mean() > 0.6 > 0.2 > (victims["sex"] == "female").mean()


def test_titanic_samples_are_valid_passengers(passengers):
    """Every value is inside the schema the bot accepts, and titles agree with sex and age."""
    drawn = synthesise_titanic(passengers, 1000, np.random.default_rng(3))
    for sample in drawn:
        for feature in TITANIC.features:
            value = sample.features[feature.name]
            if isinstance(feature, NumericFeature):
                assert feature.minimum <= float(value) <= feature.maximum, (feature.name, value)
                if feature.integer:
                    assert float(value).is_integer()
            elif isinstance(feature, ChoiceFeature):
                assert value in feature.choices, (feature.name, value)
        title, sex, age = sample.features["title"], sample.features["sex"], float(sample.features["age"])
        assert title in {"Mr", "Master", "Rare"} if sex == "male" else title in {"Miss", "Mrs", "Rare"}
        if title == "Master":
            assert age < 15
    first_class = [s.features["fare"] for s in drawn if s.features["pclass"] == 1]
    third_class = [s.features["fare"] for s in drawn if s.features["pclass"] == 3]
    assert np.median(first_class) > 3 * np.median(third_class)  # fares follow the drawn class


def test_iris_samples_are_inside_the_schema(flowers):
    for sample in synthesise_iris(flowers, 500, np.random.default_rng(5)):
        for feature in IRIS.features:
            assert isinstance(feature, NumericFeature)
            assert feature.minimum <= sample.features[feature.name] <= feature.maximum


def test_a_round_draws_the_same_samples_every_time_it_runs(flowers, passengers):
    """Seeded by model and round: a re-run after a crash predicts the very same samples."""
    for model, table in (("iris", flowers), ("titanic", passengers)):
        first = synthesise(model, table, 5, round_rng(model, "2026-11-24T08:00+00:00"))
        again = synthesise(model, table, 5, round_rng(model, "2026-11-24T08:00+00:00"))
        tomorrow = synthesise(model, table, 5, round_rng(model, "2026-11-25T08:00+00:00"))
        assert first == again
        assert first != tomorrow
