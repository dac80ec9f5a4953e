"""Whisper's failure mode in text: repetition loops. Pure functions.

Whisper's decoder can fall into a loop and write one phrase until its token limit (on noise,
music, a long pause inside a window). Whisper itself treats a window as failed when the gzip
compression ratio of its text is above 2.4; the same limit is used here. A ratio
misses short loops in a long window, so a repeated word sequence counts as a loop too.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from typing import TypeVar

COMPRESSION_RATIO_LIMIT = 2.4
LOOP_WORDS = 5  # a loop: the same 5 words (or a run of as many words) ...
LOOP_TIMES = 3  # ... said 3 times in a row

T = TypeVar("T")
_NOT_WORD = re.compile(r"[^\w]+")
_REPEATED_CHARACTERS = re.compile(r"(.{1,20}?)\1{3,}", re.S)  # a piece of text said four times or more


def compression_ratio(text: str) -> float:
    """Length over zlib-compressed length of the UTF-8 text: repetitive text compresses well."""
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0


def normal_word(word: str) -> str:
    """A word as loops compare it: lower case, no punctuation ("Hej," == "hej")."""
    return _NOT_WORD.sub("", word.lower())


def find_repetition(
    words: Sequence[object], n: int = LOOP_WORDS, times: int = LOOP_TIMES
) -> tuple[int, int, int] | None:
    """(start, period, count) of the first run of ``period`` words said ``count`` times in a row.

    A run counts when it repeats ``times`` times or more and covers at least ``n * times`` words:
    the same 5 words three times, but also one word fifteen times ("ja ja ja ..."), which a
    5-word window alone would miss for a period of 2 or 3. "nej nej nej" is not a loop.
    ``words`` may be anything comparable: token ids find a loop inside one long "word" too.
    """
    size = len(words)
    for start in range(size):
        for period in range(1, (size - start) // times + 1):
            block = words[start : start + period]
            count = 1
            while words[start + count * period : start + (count + 1) * period] == block:
                count += 1
            if count >= times and count * period >= n * times:
                return start, period, count
    return None


def has_repetition(text: str, n: int = LOOP_WORDS, times: int = LOOP_TIMES) -> bool:
    return find_repetition([normal_word(w) for w in text.split()], n, times) is not None


def is_looping(text: str) -> bool:
    return compression_ratio(text) > COMPRESSION_RATIO_LIMIT or has_repetition(text)


def trim_repetition(
    items: Sequence[T], key: Callable[[T], str] = str, n: int = LOOP_WORDS, times: int = LOOP_TIMES
) -> list[T]:
    """``items`` (words, or anything ``key`` turns into a word) with each loop said once.

    Everything after a loop stays: a loop is usually the tail of a window, but the model can
    recover and go on with what was said.
    """
    kept = list(items)
    words = [normal_word(key(item)) for item in kept]
    offset = 0
    while (found := find_repetition(words[offset:], n, times)) is not None:
        start, period, count = found
        start += offset
        cut = slice(start + period, start + count * period)
        del kept[cut], words[cut]
        offset = start + period
    return kept


def trim_repeated_characters(text: str) -> str:
    """A loop inside one word said once: "ongtongtongtongt" -> "ongtt" (no spaces, so no words to cut)."""
    return _REPEATED_CHARACTERS.sub(r"\1", text)
