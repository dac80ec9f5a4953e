"""Hostile input: a corpus of bad commands and a property-based test of the parser and the bot.

Every input gets a short, clear answer; nothing is queued that should not be; no exception escapes.
"""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import Commands
from bot.parsing import Predict, parse
from common.errors import BadCommand
from common.jobs import ReplyTo
from common.queues import ALL_QUEUES, JobQueue
from models import MODELS

NUMBERS = [
    "",
    "abc",
    "nan",
    "NaN",
    "-inf",
    "Infinity",
    "1e999",
    "-1e999",
    "0x1F",
    "1_0",
    "1,5,5",  # 1,5 alone is read as 1.5 (a decimal comma); two commas are a list, here of too many numbers
    "١٢",
    "½",
    "5..1",
    "--5",
    "+-5",
    "1e",
    ".",
    "-",
    "5.1.1",
    "९",
    "１e３",
    "−5",
    "1/2",
    "∞",
    "None",
]
TITANIC_VALUES = [
    "pclass=0",
    "pclass=4",
    "pclass=-1",
    "pclass=1.5",
    "pclass=one",
    "sex=other",
    "sex=",
    "sex=fe\u0000male",
    "age=-1",
    "age=0",
    "age=101",
    "age=1e3",
    "age=nan",
    "fare=-5",
    "fare=1e9",
    "fare=inf",
    "sibsp=-1",
    "sibsp=2.5",
    "sibsp=99",
    "parch=11",
    "embarked=Z",
    "embarked=southampton1",
    "title=King",
    "=1",
    "pclass==1",
    "pclass",
    "x=1",
    "pclass=1=2",
]
STRANGE = [
    "",
    " ",
    "\n",
    "\x00",
    "\x1b[2J/iris 1 2 3 4",
    "/\u202eiris 5.1 3.5 1.4 0.2",
    "/ iris 5.1 3.5 1.4 0.2",
    "//iris",
    "/iris\u0000 5.1 3.5 1.4 0.2x",
    "/IRIS@",
    "/iris@ 5 3 1 0.2 9",
    "/Iris@bot@bot",
    "/ιris 5.1 3.5 1.4 0.2",
    "/iris " + "5.1 " * 500,
    "/titanic " + "pclass=1 " * 300,
    "/" + "a" * 5000,
    "🙂",
    "/🙂",
    "/help" * 400,
    "/status",
    "/status a b",
    "/status ;rm -rf",
    "/cancel $(reboot)",
    "/cancel " + "f" * 100,
    "/status <script>",
    "/titanic pclass=1 sex=female age=29 age=29",
    "/iris\t5.1\t3.5\t1.4",
    "/titanic pclass=1 sex=female age=29 embarked=C embarked=S",
    "/iris sepal_length=5.1 sepal_length=5.1",
    "/irsi 5.1 3.5 1.4 0.2",
    "/titanic sex=female age=29",
    "/titanic",
    # Long words under the length limit: what the reply echoes of them is cut short.
    "/titanic pclass=1 sex=" + "x" * 300 + " age=29",
    "/" + "b" * 200,
    "/iris " + "9" * 100 + " 3.5 1.4 0.2",
    "/iris sepal_length=5.1 sepal_width=3.5 petal_length=1.4 " + "w" * 60 + "=0.2",
]
# Each kind of refusal the parser has: the corpus must reach every one.
REFUSALS = {
    "empty": "That message is empty",
    "too long": r"That message is \d+ characters long",
    "no slash": "Commands start with a slash",
    "unknown command": "I don't know the command",
    "not a number": "must be a number, not",
    "not finite": "must be a finite number",
    "too large": "is too large",
    "not whole": "must be a whole number",
    "out of range": "must be between .* is out of range",
    "not a choice": "must be one of",
    "not name=value": "is not of the form name=value",
    "unknown name": "has no '",
    "given twice": "is given twice",
    "missing": "is missing",
    "needs details": "needs the passenger's details",
    "mixed": "by position or all by name, not mixed",
    "count": "takes 4 measurements",
    "job id": "takes one job id",
}


def corpus() -> list[str]:
    bad = list(STRANGE)
    for number, position in itertools.product(NUMBERS, range(4)):
        values = ["5.1", "3.5", "1.4", "0.2"]
        values[position] = number
        bad.append("/iris " + " ".join(values))
        names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
        bad.append("/iris " + " ".join(f"{name}={value}" for name, value in zip(names, values, strict=True)))
    base = {"pclass": "pclass=1", "sex": "sex=female", "age": "age=29"}
    for value in TITANIC_VALUES:
        key = value.split("=", 1)[0]
        parts = [v for k, v in base.items() if k != key] + [value]
        bad.append("/titanic " + " ".join(parts))
    return bad


CORPUS = corpus()


def test_the_corpus_reaches_every_kind_of_refusal():
    """Each kind of refusal the parser has is the answer to some entry (a parser that starts to accept one fails)."""
    reached: dict[str, int] = dict.fromkeys(REFUSALS, 0)
    for text in CORPUS:
        try:
            parse(text)
        except BadCommand as exc:
            for kind, pattern in REFUSALS.items():
                reached[kind] += bool(re.search(pattern, str(exc)))
    assert [kind for kind, count in reached.items() if count == 0] == []


@pytest.mark.parametrize("text", CORPUS)
def test_every_bad_command_is_refused_clearly(text):
    """A known refusal that shows the way (an example or /help), echoing no more than 40 characters of the input."""
    with pytest.raises(BadCommand) as raised:
        parse(text)
    message = str(raised.value)
    assert [kind for kind, pattern in REFUSALS.items() if re.search(pattern, message)], message
    assert re.search(r"/(help|iris|titanic|status|cancel)\b", message), message
    own = message
    for model in MODELS.values():  # the examples are the bot's words, whatever the input
        own = own.replace(model.schema.example, "")
    echoed = [text[i : i + 41] for i in range(len(text) - 40) if text[i : i + 41] in own]
    assert echoed == [], "the user's text is shortened when echoed"
    assert message.isprintable() or "\n" in message


def test_nothing_is_queued_for_the_corpus(connection):
    commands = Commands(JobQueue(connection))
    reply = ReplyTo("console-test", "chat")
    for text in CORPUS:
        answer = commands.handle(text, reply)
        assert answer.job_id is None, text
        assert answer.text
    assert all(JobQueue(connection).waiting(queue) == 0 for queue in ALL_QUEUES)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_the_parser_never_raises_anything_but_bad_command(text):
    try:
        command = parse(text)
    except BadCommand as refused:
        assert str(refused)
        return
    if isinstance(command, Predict):
        assert all(value is None or isinstance(value, int | float | str) for value in command.features.values())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["pclass", "sex", "age", "sibsp", "parch", "fare", "embarked", "title", "class", "x"]),
            st.text(max_size=8),
        ),
        max_size=8,
    ),
    st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(str), st.text(max_size=6)), max_size=8),
)
def test_titanic_arguments_are_valid_or_refused(keys, values):
    text = "/titanic " + " ".join(f"{k}={v}" for k, v in zip(keys, values, strict=False))
    try:
        command = parse(text)
    except BadCommand:
        return
    assert isinstance(command, Predict)
    features = command.features
    assert features["pclass"] in (1, 2, 3)
    assert features["sex"] in ("female", "male")
    assert 0.1 <= features["age"] <= 100
