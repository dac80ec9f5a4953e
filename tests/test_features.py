"""training/titanic/features.py without a trained model: the CSV's rows in the chat's terms, the
imputation medians, and each column of the encoded vector (the served path is in test_encodings.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.titanic.features import COLUMNS, clean, encode, fit_medians, title_from_name

MEDIANS = {"age_by_title": {"Mr": 30.0, "Mrs": 35.0, "Miss": 21.5, "Master": 3.5, "Rare": 48.0},
           "fare_by_class": {1: 60.0, 2: 14.25, 3: 8.05}}  # fmt: skip
RAW = pd.DataFrame({
    "PassengerId": [1, 2, 3],
    "Survived": [0, 1, 1],
    "Pclass": [3, 1, 3],
    "Name": ["Braund, Mr. Owen Harris", "Cumings, Mrs. John Bradley", "Heikkinen, Mlle. Laina"],
    "Sex": ["male", "FEMALE", "female"],
    "Age": [22.0, np.nan, 26.0],
    "SibSp": [1, 1, 0],
    "Parch": [0, 0, 2],
    "Fare": [7.25, 71.2833, np.nan],
    "Embarked": ["S", "C", np.nan],
})  # fmt: skip


def column(vector: np.ndarray, name: str) -> float:
    return float(vector[COLUMNS.index(name)])


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("Braund, Mr. Owen Harris", "Mr"),
        ("Cumings, Mrs. John Bradley (Florence Briggs Thayer)", "Mrs"),
        ("Heikkinen, Miss. Laina", "Miss"),
        ("Palsson, Master. Gosta Leonard", "Master"),
        ("Aubart, Mme. Leontine Pauline", "Mrs"),
        ("Nye, Ms. Elizabeth", "Miss"),
        ("Sagesser, Mlle. Emma", "Miss"),
        ("Byles, Rev. Thomas Roussel Davids", "Rare"),
        ("Uruchurtu, Don. Manuel E", "Rare"),
        ("Rothes, the Countess. of (Lucy Noel Martha Dyer-Edwards)", "Rare"),
        ("No comma Mr. Smith", "Rare"),
    ],
)
def test_the_title_is_read_from_the_name(name, title):
    assert title_from_name(name) == title


def test_clean_gives_one_passenger_per_row_in_the_chats_terms():
    passengers = clean(RAW)
    assert list(passengers.columns) == ["pclass", "sex", "age", "sibsp", "parch", "fare", "embarked", "title",
                                        "survived"]  # fmt: skip
    first, second, third = passengers.to_dict("records")
    assert first == {"pclass": 3, "sex": "male", "age": 22.0, "sibsp": 1, "parch": 0, "fare": 7.25, "embarked": "S",
                     "title": "Mr", "survived": 0}  # fmt: skip
    assert second["sex"] == "female" and np.isnan(second["age"]) and second["embarked"] == "C"
    assert np.isnan(third["fare"]) and third["embarked"] == "S" and third["title"] == "Miss"
    assert passengers["pclass"].dtype.kind == passengers["sibsp"].dtype.kind == passengers["survived"].dtype.kind == "i"


def test_the_medians_are_learnt_by_title_and_by_class():
    passengers = pd.DataFrame({
        "title": ["Mr", "Mr", "Mr", "Mrs", "Miss"],
        "age": [20.0, 30.0, 41.26, 50.0, np.nan],
        "pclass": [1, 1, 3, 3, 3],
        "fare": [100.0, 50.0, 7.0, 9.0, 8.0],
    })  # fmt: skip
    medians = fit_medians(passengers)
    assert medians["age_by_title"] == {"Mr": 30.0, "Mrs": 50.0, "Miss": pytest.approx(np.nan, nan_ok=True)}
    assert medians["fare_by_class"] == {1: 75.0, 3: 8.0}
    assert all(type(k) is int for k in medians["fare_by_class"]), "int keys, as the chat gives pclass"
    rounded = fit_medians(pd.DataFrame({"title": ["Mr", "Mr"], "age": [20.0, 20.25], "pclass": [1, 1],
                                        "fare": [1.0, 2.0]}))  # fmt: skip
    assert rounded["age_by_title"] == {"Mr": 20.1}, "ages to a tenth of a year"


def test_a_full_passenger_is_encoded_column_by_column():
    [vector] = encode([{"pclass": 2, "sex": "male", "age": 40.0, "sibsp": 2, "parch": 1, "fare": 30.0,
                        "embarked": "Q", "title": "Rare"}], MEDIANS)  # fmt: skip
    assert vector.dtype == np.float32 and vector.shape == (len(COLUMNS),)
    expected = {"pclass": 2, "female": 0, "age": 40, "sibsp": 2, "parch": 1, "fare": 30, "log_fare": np.log1p(30),
                "family_size": 4, "alone": 0, "fare_per_person": 7.5, "title_Rare": 1, "embarked_Q": 1}  # fmt: skip
    assert {name: pytest.approx(column(vector, name), rel=1e-6) for name in COLUMNS} == {
        name: expected.get(name, 0) for name in COLUMNS
    }


def test_missing_values_take_the_defaults_and_the_medians():
    """No title: from sex and age; no age: the title's median; no fare: the class's; no port: S; no family: alone."""
    [girl, unknown_age, json_keys, gaps] = encode([
        {"pclass": 3, "sex": "female", "age": 9.0},
        {"pclass": 1, "sex": "male", "age": None, "fare": float("nan")},
        {"pclass": 2, "sex": "female", "age": 30.0},
        {"pclass": 3, "sex": "male", "age": float("nan"), "title": "Master", "sibsp": None, "parch": None,
         "embarked": None},
    ], {"age_by_title": MEDIANS["age_by_title"], "fare_by_class": {"1": 60.0, "2": 14.25}})  # fmt: skip
    assert column(girl, "title_Miss") == 1 and column(girl, "fare") == pytest.approx(14.45), "class 3: £14.45"
    assert column(girl, "alone") == 1 and column(girl, "family_size") == 1 and column(girl, "embarked_S") == 1
    assert column(unknown_age, "title_Mr") == 1 and column(unknown_age, "age") == 30.0, "age unknown: a man, Mr"
    assert column(unknown_age, "fare") == 60.0, "string keys after a JSON round trip"
    assert column(json_keys, "title_Mrs") == 1 and column(json_keys, "fare") == 14.25
    assert column(gaps, "age") == 3.5 and column(gaps, "title_Master") == 1
    assert column(gaps, "sibsp") == column(gaps, "parch") == 0 and column(gaps, "embarked_S") == 1


def test_a_title_without_a_median_and_a_boy_or_a_woman_by_age():
    [boy, woman] = encode([{"pclass": 3, "sex": "male", "age": 14.0}, {"pclass": 3, "sex": "female", "age": 18.0}],
                          {"age_by_title": {}, "fare_by_class": {}})  # fmt: skip
    assert column(boy, "title_Master") == 1 and column(woman, "title_Mrs") == 1
    [no_age] = encode([{"pclass": 3, "sex": "female", "age": None}], {"age_by_title": {}, "fare_by_class": {}})
    assert column(no_age, "age") == 30.0 and column(no_age, "title_Mrs") == 1, "30 when nothing else is known"


def test_several_passengers_are_encoded_in_order():
    rows = encode([{"pclass": 1, "sex": "female", "age": 1.0}, {"pclass": 3, "sex": "male", "age": 80.0}], MEDIANS)
    assert rows.shape == (2, len(COLUMNS))
    assert [column(row, "age") for row in rows] == [1.0, 80.0]
    assert encode([], MEDIANS).shape == (0, len(COLUMNS))


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("de Messemaeker, Mrs. Guillaume Joseph", "Mrs"),  # a surname with a space
        ("Smith, Mr. John, Jr.", "Mr"),  # a second comma
        ("Jones, Mr. John Jr.", "Mr"),  # a second full stop
    ],
)
def test_the_title_is_the_word_after_the_first_comma_up_to_the_first_full_stop(name, title):
    assert title_from_name(name) == title


def test_sex_port_and_whole_numbers_in_their_columns():
    woman, port_c = encode([{"pclass": 1, "sex": "female", "age": 30.0, "embarked": "C"},
                            {"pclass": 1, "sex": "male", "age": 30.0, "embarked": "C"}], MEDIANS)  # fmt: skip
    assert column(woman, "female") == 1 and column(port_c, "female") == 0
    assert column(port_c, "embarked_C") == 1 and column(port_c, "embarked_S") == 0
    [no_fare] = encode([{"pclass": 1, "sex": "male", "age": 30.0}], MEDIANS)
    assert column(no_fare, "fare") == 60.0, "the class's median fare, int keys as training stored them"
    assert clean(RAW)["parch"].dtype.kind == "i"
