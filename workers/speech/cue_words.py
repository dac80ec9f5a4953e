"""Segments -> one timed entry per written word, in milliseconds, never overlapping or going backwards.

Cues are cut between these words, so a word here is what may never be split: a Whisper word (its
leading space dropped; a piece the model wrote without a space before it is glued to the word
before), or, where a segment has no usable word timestamps, a run of non-space characters whose time
is the segment's span shared out in proportion to the characters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from workers.speech.backends import Segment


@dataclass(frozen=True)
class TimedWord:
    text: str  # no whitespace, never empty
    start: int  # milliseconds
    end: int
    ends_segment: bool  # the model ended its segment here: a likely place for a break


def timed_words(segments: list[Segment]) -> list[TimedWord]:
    """Every word of ``segments`` in order, with times made monotone: each starts where the last ended or later."""
    words: list[TimedWord] = []
    clock = 0
    for segment in segments:
        pieces = _pieces(segment)
        for index, (text, start, end, glued) in enumerate(pieces):
            start_ms = max(_ms(start, clock), clock)
            end_ms = max(_ms(end, start_ms), start_ms)
            last = index == len(pieces) - 1
            if glued and index > 0:
                before = words.pop()
                words.append(TimedWord(before.text + text, before.start, end_ms, last))
            else:
                words.append(TimedWord(text, start_ms, end_ms, last))
            clock = end_ms
    return words


def heard_until(segments: list[Segment], words: list[TimedWord]) -> int:
    """The end of the audio the segments are known to cover (ms): the last segment's end, or the last word's."""
    ends = [_ms(segment.end, 0) for segment in segments if segment.text.strip()]
    return max([words[-1].end if words else 0, *ends])


def _pieces(segment: Segment) -> list[tuple[str, float, float, bool]]:
    """(text, start s, end s, glued to the piece before) for each non-space run of the segment."""
    if not _words_fit(segment):
        return [(text, start, end, False) for text, start, end in _spread(segment.text, segment.start, segment.end)]
    pieces = []
    for word in segment.words:
        for index, (text, start, end) in enumerate(_spread(word.text, word.start, word.end)):
            pieces.append((text, start, end, index == 0 and not word.text[:1].isspace()))
    return pieces


def _words_fit(segment: Segment) -> bool:
    """Word timestamps are used only where they spell the segment's text.

    A translated segment keeps the recognised (Swedish) words beside its English text; cutting the
    English by their times would put the wrong text on screen, so such segments are cut by length.
    """
    return bool(segment.words) and "".join(word.text for word in segment.words).split() == segment.text.split()


def _spread(text: str, start: float, end: float) -> list[tuple[str, float, float]]:
    """The non-space runs of ``text`` over [start, end], each given time in proportion to its length."""
    parts = text.split()
    if not parts:
        return []
    end = max(end, start)
    # A run's share counts one space after it, so that short words do not flash by.
    weights = [len(part) + 1 for part in parts]
    total = sum(weights)
    spread, done = [], 0
    for part, weight in zip(parts, weights, strict=True):
        spread.append((part, start + (end - start) * done / total, start + (end - start) * (done + weight) / total))
        done += weight
    return spread


def _ms(seconds: float, fallback: int) -> int:
    """Whole milliseconds; a time the model left undefined (NaN, infinite) takes ``fallback``."""
    return round(seconds * 1000) if math.isfinite(seconds) else fallback
