"""The broadcast rules for one subtitle cue, defined once.

:mod:`workers.speech.cues` builds cues to meet them; tests and the bench measure with them. Times are
judged in whole milliseconds, as the .srt and .vtt files write them, so that a cue the builder made
exactly 1 s long is not failed by a float rounding error.

- lines:       1 or 2 lines, none of them blank
- line length: at most 42 characters per line
- duration:    from 1 s to 7 s on screen
- cps:         at most 20 characters per second (the characters of the lines, the line break not counted)
- overlap:     the cue ends no later than the next one starts (touching is allowed)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MAX_LINES = 2
MAX_LINE_CHARS = 42
MIN_CUE_S = 1.0
MAX_CUE_S = 7.0
MAX_CPS = 20.0

MIN_CUE_MS = round(MIN_CUE_S * 1000)
MAX_CUE_MS = round(MAX_CUE_S * 1000)


@dataclass(frozen=True)
class Cue:
    start: float  # seconds, whole milliseconds where build_cues made it
    end: float
    lines: tuple[str, ...]

    @property
    def chars(self) -> int:
        """What a viewer reads: the characters of the lines, without the line break."""
        return sum(len(line) for line in self.lines)


def to_ms(seconds: float) -> int:
    return round(seconds * 1000)


def min_duration_ms(chars: int) -> int:
    """The shortest time on screen that both the minimum duration and the reading speed allow."""
    return max(MIN_CUE_MS, math.ceil(chars * 1000 / MAX_CPS))


def timing_violations(duration_ms: int, chars: int) -> list[str]:
    """The rules on time alone; the builder asks this while it chooses where cues end."""
    broken = []
    if not MIN_CUE_MS <= duration_ms <= MAX_CUE_MS:
        broken.append("duration")
    # Multiplied out, so that a cue of zero length counts as too fast rather than dividing by zero.
    if chars * 1000 > MAX_CPS * duration_ms:
        broken.append("cps")
    return broken


def cue_violations(cue: Cue, next_start: float | None = None) -> list[str]:
    """The rules this cue breaks, of "lines", "line length", "duration", "cps", "overlap"; [] when none."""
    broken = []
    if not 1 <= len(cue.lines) <= MAX_LINES or any(not line.strip() for line in cue.lines):
        broken.append("lines")
    if any(len(line) > MAX_LINE_CHARS for line in cue.lines):
        broken.append("line length")
    broken += timing_violations(to_ms(cue.end) - to_ms(cue.start), cue.chars)
    if next_start is not None and to_ms(cue.end) > to_ms(next_start):
        broken.append("overlap")
    return broken


def share_within_rules(cues: Sequence[Cue]) -> float:
    """The share of cues that break no rule, each judged against the start of the one after it.

    No cues break no rules: 1.0 (a caller that needs cues checks that there are some).
    """
    if not cues:
        return 1.0
    starts: list[float | None] = [cue.start for cue in cues[1:]]
    within = sum(not cue_violations(cue, next_start) for cue, next_start in zip(cues, [*starts, None], strict=True))
    return within / len(cues)
