"""The command parser: every bad input gets a clear message with an example; good input parses."""

from __future__ import annotations

import pytest

from bot.parsing import Help, JobControl, Predict, Speech, Subscription, parse
from common.errors import BadCommand


def test_iris_by_position():
    command = parse("/iris 5.1 3.5 1.4 0.2")
    assert command == Predict(
        "iris", {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    )


def test_iris_by_name_and_with_commas_and_bot_suffix():
    named = parse("/iris petal_width=0.2 sepal_length=5.1 sepal_width=3.5 petal_length=1.4")
    assert named == parse("/iris@MlChatBot 5.1, 3.5, 1.4, 0.2")


def test_titanic_full_example_parses():
    command = parse("/titanic pclass=1 sex=female age=29 sibsp=0 parch=0 fare=80 embarked=C")
    assert command == Predict(
        "titanic",
        {
            "pclass": 1,
            "sex": "female",
            "age": 29.0,
            "sibsp": 0,
            "parch": 0,
            "fare": 80.0,
            "embarked": "C",
            "title": None,
        },
    )


def test_titanic_defaults_and_aliases():
    command = parse("/titanic class=3 gender=M age=40 port=queenstown")
    assert isinstance(command, Predict)
    assert command.features == {
        "pclass": 3,
        "sex": "male",
        "age": 40.0,
        "sibsp": 0,
        "parch": 0,
        "fare": None,
        "embarked": "Q",
        "title": None,
    }


def test_fullwidth_digits_are_normalised():
    assert parse("/iris ５.１ 3.5 1.4 0.2") == parse("/iris 5.1 3.5 1.4 0.2")


@pytest.mark.parametrize("text", ["/help", "/start", "/HELP", "  /help  "])
def test_help(text):
    assert parse(text) == Help()


def test_status_takes_a_job_id():
    assert parse("/status 1a2b3c4d5e6f") == JobControl("status", "1a2b3c4d5e6f")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("hello there", "Commands start with a slash"),
        ("/unknown 1 2", "I don't know the command /unknown"),
        ("/iris", "you gave 0"),
        ("/iris 1 2 3", "you gave 3"),
        ("/iris 1 2 3 4 5", "you gave 5"),
        ("/iris a b c d", "must be a number, not 'a'"),
        ("/iris nan 3.5 1.4 0.2", "must be a finite number, not 'nan'"),
        ("/iris 5.1 inf 1.4 0.2", "must be a finite number"),
        ("/iris 5.1 -Infinity 1.4 0.2", "must be a finite number"),
        ("/iris 5.1 1e999 1.4 0.2", "too large"),
        ("/iris 5.1 3.5 1.4 0x10", "must be a number"),
        ("/iris 5.1 3.5 1.4 1_0", "must be a number"),
        ("/iris 50 3.5 1.4 0.2", "must be between 1 and 12 cm"),
        ("/iris 5.1 3.5 1.4 -0.2", "must be between 0.05 and 5 cm"),
        ("/iris 5.1 3.5 petal_length=1.4 0.2", "not mixed"),
        ("/iris sepal_length=5.1", "missing sepal_width, petal_length, petal_width"),
        ("/titanic", "needs the passenger's details"),
        ("/titanic pclass=1 sex=female", "missing age"),
        ("/titanic sex=female age=3", "missing pclass"),
        ("/titanic pclass=1 sex=female age=29 age=30", "'age' is given twice"),
        ("/titanic pclass=1 sex=female age=29 colour=blue", "has no 'colour'"),
        ("/titanic pclass=1 sex=female age=-4", "must be between 0.1 and 100 years"),
        ("/titanic pclass=1 sex=female age=250", "must be between 0.1 and 100 years"),
        ("/titanic pclass=1 sex=female age=29 fare=100000", "must be between 0 and 600 £"),
        ("/titanic pclass=4 sex=female age=29", "must be between 1 and 3"),
        ("/titanic pclass=1.5 sex=female age=29", "must be a whole number"),
        ("/titanic pclass=1 sex=robot age=29", "sex must be one of female, male"),
        ("/titanic pclass=1 sex=female age=twenty", "must be a number, not 'twenty'"),
        ("/titanic pclass=1 sex=female age=NaN", "must be a finite number"),
        ("/titanic pclass=1 sex=female age=29 embarked=X", "embarked must be one of S, C, Q"),
        ("/titanic pclass=1 female 29", "is not of the form name=value"),
        ("/titanic pclass= sex=female age=29", "is not of the form name=value"),
        ("/titanic pclass=1 sex=female age=29 sibsp=11", "must be between 0 and 10"),
        ("/status", "takes one job id"),
        ("/cancel ../../etc", "takes one job id"),
        ("/iris " + "9" * 2000, "characters long"),
    ],
)
def test_bad_input_gets_a_clear_message(text, expected):
    with pytest.raises(BadCommand) as raised:
        parse(text)
    message = str(raised.value)
    assert expected in message
    assert len(message) < 400, "replies stay short whatever the input"


@pytest.mark.parametrize("text", ["/iris 5.1 3.5 1.4", "/titanic pclass=9 sex=female age=29", "/titanic age=1"])
def test_errors_about_a_model_show_a_correct_example(text):
    with pytest.raises(BadCommand) as raised:
        parse(text)
    model = text.split()[0]
    assert f"Example: {model} " in str(raised.value)


def test_echoed_input_is_shortened():
    with pytest.raises(BadCommand) as raised:
        parse("/titanic pclass=1 sex=" + "x" * 300 + " age=29")
    assert "x" * 41 not in str(raised.value)


def test_control_characters_do_not_reach_the_reply():
    with pytest.raises(BadCommand) as raised:
        parse("/iris 5.1 3.5 1.4 \x1b[31mred")
    assert "\x1b" not in str(raised.value)


def test_lang_is_taken_out_of_speech_commands_and_captions_by_one_parser():
    """`lang=`/`language=` anywhere in /transcribe or /translate (or a Telegram caption), checked the same way."""
    from bot.parsing import Speech
    from bot.telegram_uploads import caption_request

    assert parse("/translate lang=FI https://youtu.be/x") == Speech("translate", ["https://youtu.be/x"], "fi")
    assert parse("/transcribe https://youtu.be/x") == Speech("transcribe", ["https://youtu.be/x"], None), "the chat's"
    assert caption_request("/translate language=en") == ("translate", "en")
    for bad in ("/transcribe https://youtu.be/x lang=12", "/translate lang=svenska"):
        with pytest.raises(BadCommand, match="lang= takes a language code"):
            parse(bad)
    with pytest.raises(BadCommand, match="lang= takes a language code"):
        caption_request("/transcribe lang=12")


# Exact answers and edges, so that a changed word, bound or default is noticed (mutation testing found these).


def test_an_empty_message_is_answered_with_the_way_to_help():
    with pytest.raises(BadCommand) as raised:
        parse("  \u200b ")
    assert str(raised.value) == "That message is empty. Send /help to see what I can do."


def test_a_message_of_1000_characters_is_read_and_one_more_is_too_long():
    longest = "/iris " + "1" * 994
    assert len(longest) == 1000
    with pytest.raises(BadCommand) as read:
        parse(longest)
    assert "characters long" not in str(read.value)
    with pytest.raises(BadCommand, match="That message is 1001 characters long"):
        parse(longest + "1")


def test_job_commands_and_subscriptions_keep_their_action_and_words():
    assert parse("/cancel AbCd-1234") == JobControl("cancel", "AbCd-1234")
    with pytest.raises(BadCommand) as raised:
        parse("/cancel x")
    assert str(raised.value) == "/cancel takes one job id, the one I gave when I queued your job: /cancel 1a2b3c4d"
    assert parse("/subscribe iris all") == Subscription("subscribe", ["iris", "all"])
    assert parse("/unsubscribe") == Subscription("unsubscribe", [])


def test_lang_auto_and_the_edges_of_a_language_setting():
    link = "https://youtu.be/x"
    assert parse(f"/transcribe {link} lang=auto").language == "auto"
    assert parse(f"/transcribe {link} lang=AUTO").language == "auto"
    assert parse(f"/translate {link} language") == Speech("translate", [link, "language"], None), "no '=': a word"
    with pytest.raises(BadCommand) as raised:
        parse(f"/transcribe {link} lang=sv=fi")
    assert str(raised.value) == "lang= takes a language code such as sv, en or fi (or auto), not 'sv=fi'."
    with pytest.raises(BadCommand) as raised:
        parse(f"/transcribe {link} lang=abcdefghijklmnopqrstuvwxyz")
    assert str(raised.value).endswith("not 'abcdefghijklmnopqrst'."), "20 characters of it are shown"


def test_invisible_format_characters_separate_words():
    """A zero-width space or soft hyphen (Unicode Cf) pasted between words counts as a space."""
    expected = parse("/iris 5.1 3.5 1.4 0.2")
    assert parse("/iris\u200b5.1 3.5\u00ad1.4 0.2") == expected


def test_named_values_take_dashes_and_keep_an_equals_sign_in_the_value():
    by_position = parse("/iris 5.1 3.5 1.4 0.2")
    assert parse("/iris sepal-length=5.1 sepal-width=3.5 petal-length=1.4 petal-width=0.2") == by_position
    with pytest.raises(BadCommand, match=r"pclass \(ticket class: 1, 2 or 3\) must be a number, not '1=2'"):
        parse("/titanic pclass=1=2 sex=female age=29")
    with pytest.raises(BadCommand, match=r"^'=1' is not of the form name=value"):
        parse("/titanic =1 pclass=1 sex=female age=29")
    with pytest.raises(BadCommand) as raised:
        parse("/titanic pclass=1 sex=female age=29 colour=blue")
    assert "Known: pclass, sex, age, sibsp, parch, fare, embarked, title." in str(raised.value)


def test_range_errors_name_the_feature_its_help_and_its_unit_exactly():
    with pytest.raises(BadCommand) as raised:
        parse("/iris 50 3.5 1.4 0.2")
    assert str(raised.value) == (
        "sepal_length (sepal length) must be between 1 and 12 cm; 50 is out of range. Example: /iris 5.1 3.5 1.4 0.2"
    )
    with pytest.raises(BadCommand) as raised:
        parse("/titanic pclass=4 sex=female age=29")
    assert str(raised.value).startswith("pclass (ticket class: 1, 2 or 3) must be between 1 and 3; 4 is out of range.")


def test_whole_number_features_are_ints():
    features = parse("/titanic pclass=1 sex=female age=29 sibsp=2").features  # type: ignore[union-attr]
    assert [type(features[name]) for name in ("pclass", "sibsp", "parch", "age")] == [int, int, int, float]


@pytest.mark.parametrize(
    ("given", "shown"), [("x" * 40, "x" * 40), ("x" * 41, "x" * 39 + "…"), ("y" * 300, "y" * 39 + "…")]
)
def test_echoed_input_is_cut_to_40_characters(given, shown):
    with pytest.raises(BadCommand) as raised:
        parse(f"/titanic pclass=1 sex={given} age=29")
    assert f"not '{shown}'." in str(raised.value)


# Decimal commas (5,1, as written in Sweden) and the words a choice takes (issue 15, point 7).

IRIS_5_1 = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@pytest.mark.parametrize(
    "text",
    [
        "/iris 5,1 3,5 1,4 0,2",
        "/iris 5,1 3.5 1,4 0.2",
        "/iris sepal_length=5,1 sepal_width=3,5 petal_length=1,4 petal_width=0,2",
        "/iris 5.1,3.5,1.4,0.2",
        "/iris 5.1, 3.5, 1.4, 0.2",
    ],
)
def test_iris_takes_decimal_commas_where_commas_cannot_separate_the_four(text):
    """8 numbers if every comma separated, 4 if each 5,1 is one: only the second fits, so it is read."""
    assert parse(text) == Predict("iris", IRIS_5_1)


def test_commas_that_give_four_numbers_as_separators_still_separate():
    assert parse("/iris 5,1,3,5").features == {  # type: ignore[union-attr]
        "sepal_length": 5.0, "sepal_width": 1.0, "petal_length": 3.0, "petal_width": 5.0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "gave"),
    [
        ("/iris 5,1 3,5 1,4", "you gave 6, or 3 reading 5,1 as 5.1."),
        ("/iris 5,1 3,5 1,4 0,2 6,3", "you gave 10, or 5 reading 5,1 as 5.1."),
        ("/iris 4,9 3 1,4", "you gave 5, or 3 reading 4,9 as 4.9."),
    ],
)
def test_a_wrong_count_with_decimal_commas_names_both_readings(text, gave):
    with pytest.raises(BadCommand) as raised:
        parse(text)
    assert str(raised.value) == (
        "/iris takes 4 measurements in cm (sepal length, sepal width, petal length, petal width); "
        f"{gave} Example: /iris 5.1 3.5 1.4 0.2"
    )


def test_titanic_takes_decimal_commas_and_errors_echo_them_as_typed():
    features = parse("/titanic pclass=1 sex=female age=0,5 fare=71,28").features  # type: ignore[union-attr]
    assert (features["age"], features["fare"]) == (0.5, 71.28)
    with pytest.raises(BadCommand, match=r"must be a whole number, not 1,5\. "):
        parse("/titanic pclass=1 sex=female age=29 sibsp=1,5")
    with pytest.raises(BadCommand, match=r"must be between 1 and 12 cm; 50,1 is out of range\. "):
        parse("/iris 50,1 3,5 1,4 0,2")


@pytest.mark.parametrize("fare", ["1,000", "71,283"])
def test_a_comma_that_may_group_thousands_is_not_guessed(fare):
    """1,000: a thousand in English, 1.0 in Swedish; the user is asked rather than either read."""
    with pytest.raises(BadCommand) as raised:
        parse(f"/titanic pclass=1 sex=female age=29 fare={fare}")
    grouped, point = fare.replace(",", ""), fare.replace(",", ".")
    assert str(raised.value).startswith(
        f"fare (ticket price in pounds (default: typical for the class)): {fare} could be {grouped} or {point}; "
        "write it without the comma or with a point. Example: /titanic "
    )


@pytest.mark.parametrize(
    ("word", "sex"),
    [("female", "female"), ("F", "female"), ("woman", "female"), ("Male", "male"), ("m", "male"), ("MAN", "male")],
)
def test_sex_takes_female_or_male_and_the_documented_aliases_in_any_case(word, sex):
    assert parse(f"/titanic pclass=1 sex={word} age=29").features["sex"] == sex  # type: ignore[union-attr]


@pytest.mark.parametrize("word", ["lady", "girl", "boy", "w", "women", "fem"])
def test_any_other_word_for_sex_is_refused_listing_the_accepted_ones(word):
    with pytest.raises(BadCommand) as raised:
        parse(f"/titanic pclass=1 sex={word} age=29")
    assert str(raised.value) == (
        f"sex must be one of female, male (also f, woman, m, man), not '{word}'. "
        "Example: /titanic pclass=1 sex=female age=29 sibsp=0 parch=0 fare=80 embarked=C"
    )


def test_the_help_and_the_option_description_name_every_word_sex_takes():
    from bot.replies import help_text
    from common.schemas import ChoiceFeature
    from models.titanic import SEX_ALIASES, TITANIC

    sex = TITANIC.feature("sex")
    assert isinstance(sex, ChoiceFeature) and sex.aliases == SEX_ALIASES
    assert sex.help == "female or male (also f, woman, m, man)"
    assert "sex (female/f/woman or male/m/man)" in help_text()
    assert sorted(SEX_ALIASES) == ["f", "m", "man", "woman"]
