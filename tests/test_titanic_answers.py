"""What a Titanic user reads: the text answer, the dashboard's description and the picture say who the passenger was."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from common.jobs import FeatureValue, PredictionResult
from models import MODELS

TITANIC = MODELS["titanic"]


def result(label: str = "survived", **features: FeatureValue) -> PredictionResult:
    return PredictionResult(
        model="titanic", version=3, label=label, probability=0.93, probabilities={}, features=features
    )


def texts(figure: Figure) -> list[str]:
    """Every text artist drawn on the figure's axes."""
    return [text.get_text() for axes in figure.axes for text in axes.texts]


@pytest.mark.parametrize(
    ("features", "passenger"),
    [
        ({"pclass": 1, "sex": "female", "age": 29.0}, "1st-class woman of 29"),
        ({"pclass": 2, "sex": "male", "age": 40.5}, "2nd-class man of 40.5"),
        ({"pclass": 3, "sex": "female", "age": 14.0}, "3rd-class girl of 14"),
        ({"pclass": 1, "sex": "male", "age": 1.0}, "1st-class boy of 1"),
        ({"pclass": 1, "sex": "male", "age": 0.5}, "1st-class boy of 6 months"),
        ({"pclass": 3, "sex": "female", "age": 0.92}, "3rd-class girl of 11 months"),
        ({"pclass": 2, "sex": "male", "age": 0.1}, "2nd-class boy of 1 month"),
    ],
)
def test_the_answer_names_the_passenger_and_says_a_babys_age_in_months(features, passenger):
    assert TITANIC.reply_text(result(**features)) == (
        f"Titanic: a {passenger} would have survived (93% sure). Model v3."
    )


def test_the_dashboard_row_says_a_babys_age_in_months_too():
    features = {"pclass": 1, "sex": "male", "age": 0.5, "sibsp": 0, "parch": 2, "fare": 151.55, "embarked": "S"}
    assert TITANIC.describe(features) == "1st-class boy, 6 months, 2 relatives, £152, from S"


@pytest.mark.parametrize(
    ("label", "features", "heading", "verdict"),
    [
        ("survived", {"pclass": 1, "sex": "female", "age": 29.0}, "A 1st-class woman of 29", "Survived"),
        ("died", {"pclass": 3, "sex": "male", "age": 0.5}, "A 3rd-class boy of 6 months", "Did not survive"),
    ],
)
def test_the_picture_says_who_the_passenger_was_as_the_text_does(label, features, heading, verdict):
    """The picture may be forwarded without its caption: it names the passenger in the text answer's words."""
    answer = result(label, **features)
    drawn = texts(TITANIC.picture(answer, {}))
    assert drawn == [heading, verdict, "93% sure  (model v3)"]
    assert heading[2:] in TITANIC.reply_text(answer)
