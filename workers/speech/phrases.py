"""How good a place between two words is for a line or cue break, and the best two-line layout of a cue.

Broadcast practice: break after a sentence, else after a clause (, ; :), else before a conjunction or
preposition, else at any space; never after such a linking word (it would dangle at a line's end), and
where two lines are needed, keep them of similar length.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from workers.speech.cue_rules import MAX_LINE_CHARS
from workers.speech.cue_words import TimedWord

SENTENCE_END = (".", "?", "!", "…")
CLAUSE_END = (",", ";", ":")
CLOSING = "\"'»”’)]"
# Swedish and English words that start a phrase: a break before them reads naturally.
LINKING_WORDS = frozenset(
    {"och", "men", "eller", "att", "som", "för", "på", "i", "med", "till"}
    | {"and", "but", "or", "that", "which", "for", "on", "in", "with", "to"}
)
PAUSE_MS = 300  # a pause this long is heard as a phrase boundary even without punctuation

AT_SENTENCE, AT_CLAUSE, AT_PAUSE, BEFORE_LINK, AT_SPACE, AFTER_LINK = 0.0, 1.0, 1.0, 2.0, 4.0, 6.0
IMBALANCE = 3.0  # the cost of lines differing by a full line's length


def break_costs(words: Sequence[TimedWord]) -> list[float]:
    """The cost of a break after each word; after the last, nothing."""
    costs = [_break_cost(before, after) for before, after in pairwise(words)]
    return [*costs, 0.0] if words else []


def _break_cost(before: TimedWord, after: TimedWord) -> float:
    ending = before.text.rstrip(CLOSING)
    if ending.endswith(SENTENCE_END):
        cost = AT_SENTENCE
    elif ending.endswith(CLAUSE_END):
        cost = AT_CLAUSE
    elif _bare(after.text) in LINKING_WORDS:
        cost = BEFORE_LINK
    elif _bare(before.text) in LINKING_WORDS:
        cost = AFTER_LINK
    else:
        cost = AT_SPACE
    if before.ends_segment or after.start - before.end >= PAUSE_MS:
        cost = min(cost, AT_PAUSE)
    return cost


def _bare(text: str) -> str:
    return text.strip("\"'«»“”‘’()[]-–—.,;:!?…").lower()


def best_layout(lengths: Sequence[int], costs: Sequence[float]) -> tuple[int | None, float] | None:
    """Where to break the words of one cue into lines, and what that break costs.

    ``lengths`` are the words' lengths, ``costs`` the break cost after each. Returns (None, 0) when
    all fit one line, (k, cost) to break after word k, None when no two lines of at most
    MAX_LINE_CHARS hold them. A line break replaces a space, so two lines hold one character less.
    """
    total = sum(lengths) + len(lengths) - 1
    if total <= MAX_LINE_CHARS:
        return None, 0.0
    best: tuple[int | None, float] | None = None
    first = -1  # the first line's length: the words so far and the spaces between them
    for k, length in enumerate(lengths[:-1]):
        first += length + 1
        second = total - first - 1
        if first > MAX_LINE_CHARS:
            break
        if second > MAX_LINE_CHARS:
            continue
        cost = costs[k] + IMBALANCE * abs(first - second) / MAX_LINE_CHARS
        if best is None or cost < best[1]:
            best = k, cost
    return best


def lines_of(texts: Sequence[str], split_after: int | None) -> tuple[str, ...]:
    if split_after is None:
        return (" ".join(texts),)
    return " ".join(texts[: split_after + 1]), " ".join(texts[split_after + 1 :])
