"""Segments -> subtitle cues within the broadcast rules of :mod:`workers.speech.cue_rules`.

Where each cue ends is chosen for the whole transcript at once, by dynamic programming over the
places between words, not greedily (a greedy cut paints the last cues of a passage into a corner). A
cue costs a constant (fewer, fuller cues read better than many flashes), the break after it and its
line break (:mod:`workers.speech.phrases`), the pauses inside it (text left on screen through a
silence), and far more for each rule it breaks, so that any split within the rules beats any without.

Times: a cue starts with its first word and ends with its last, extended into the silence after it
where the minimum duration or the reading speed needs it, no further than needed and never into the
next cue. A cue still too short or too fast then starts earlier, into the silence the cue before left.
That makes a cue's cost depend on the cue before it, so the search keeps the best way to every
possible last cue, not only to every word. The last cue is held no later than the last segment's end
(the audio known to be there) unless even the silence before it leaves it too short.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.speech.backends import Segment
from workers.speech.cue_rules import (
    MAX_CUE_MS,
    MAX_LINE_CHARS,
    MAX_LINES,
    Cue,
    min_duration_ms,
    timing_violations,
)
from workers.speech.cue_words import TimedWord, heard_until, timed_words
from workers.speech.phrases import best_layout, break_costs, lines_of

CUE_COST = 3.0
VIOLATION_COST = 1000.0  # any layout within the rules beats any that breaks one
PAUSE_FREE_MS = 500  # a breath inside a cue is fine; longer silences cost per second
PAUSE_COST_PER_S = 6.0
# Where a cue ends matters more than where its lines break: a cue that stops mid-phrase, or starts a
# sentence it does not finish, leaves the reader waiting on a blank.
CUE_BREAK_WEIGHT = 2.0
GAP_MS = 40  # left between cues where the rules do not need the time, so that a player shows the change
MAX_CUE_CHARS = MAX_LINES * MAX_LINE_CHARS + 1  # two full lines and the space the break replaces


@dataclass(frozen=True)
class _Candidate:
    """Words first..last as one cue, laid out and timed as far as it can be without knowing the cue before."""

    first: int
    last: int
    split_after: int | None  # the word its first line ends with; None: one line
    chars: int
    start: int  # milliseconds: its first word's start
    end: int  # its last word's end, extended into the silence after it as far as needed and allowed
    cost: float  # all but the rules, which depend on how far the cue before leaves room to start earlier

    @property
    def in_time(self) -> bool:
        """Within the timing rules as it stands, without starting earlier than its first word."""
        return not timing_violations(self.end - self.start, self.chars)

    def start_after(self, before: int) -> int:
        """Its start where the cue before ends at ``before``: before its first word only where the rules need it."""
        if self.in_time:
            return self.start
        return _reach(self.end - min_duration_ms(self.chars), self.start, before, forward=False)

    def broken_after(self, before: int) -> int:
        return len(timing_violations(self.end - self.start_after(before), self.chars))


def build_cues(segments: list[Segment]) -> list[Cue]:
    """The cues for ``segments``: every word once, in order, cut at phrase boundaries; deterministic."""
    words = timed_words(segments)
    if not words:
        return []
    chosen, texts = _Planner(words, heard_until(segments, words)).best_cues(), [word.text for word in words]
    cues, before = [], 0
    for candidate in chosen:
        start = candidate.start_after(before)
        lines = lines_of(texts[candidate.first : candidate.last + 1], candidate.split_after)
        cues.append((start, candidate.end, lines))
        before = candidate.end
    # Only where even that and the silence before it are not enough does it run past the audio's end
    # (a player shows it until the video stops): the last cue always meets the timing rules.
    start, end, lines = cues[-1]
    cues[-1] = start, max(end, start + min_duration_ms(chosen[-1].chars)), lines
    return [Cue(start / 1000, end / 1000, lines) for start, end, lines in _strictly_ordered(cues)]


class _Planner:
    def __init__(self, words: list[TimedWord], audio_end: int) -> None:
        self.words = words
        self.audio_end = audio_end
        self.lengths = [len(word.text) for word in words]
        self.breaks = break_costs(words)
        # prefix sums: the characters of words [0, k) and the pause cost between them
        self.chars_before = [0]
        self.pause_before = [0.0]
        for index, word in enumerate(words):
            self.chars_before.append(self.chars_before[-1] + len(word.text))
            pause = word.start - words[index - 1].end if index else 0
            self.pause_before.append(self.pause_before[-1] + max(0, pause - PAUSE_FREE_MS) / 1000 * PAUSE_COST_PER_S)

    def best_cues(self) -> list[_Candidate]:
        """The cheapest sequence of cues that covers every word.

        The state is the last cue itself (not only where it ends), because how early the next cue
        may start depends on when that one ends: a short cue can take the silence before it only
        where the cue before did not need that silence itself.
        """
        ending: list[list[_Candidate]] = []  # ending[k]: the candidates whose last word is k
        totals: list[list[float]] = []  # the cheapest cues up to and including each candidate
        links: list[list[int]] = []  # which candidate in ending[first - 1] came before it
        cheapest: list[tuple[float, int]] = []  # per k: the best total among ending[k], and which
        for last in range(len(self.words)):
            candidates = self._candidates(last)
            ending.append(candidates)
            totals.append([])
            links.append([])
            for candidate in candidates:
                total, link = self._best_before(candidate, ending, totals, cheapest)
                totals[-1].append(total + candidate.cost)
                links[-1].append(link)
            best = min(range(len(candidates)), key=lambda k: (totals[-1][k], k))
            cheapest.append((totals[-1][best], best))
        chosen, index = [], cheapest[-1][1]
        last = len(self.words) - 1
        while last >= 0:
            candidate = ending[last][index]
            chosen.append(candidate)
            index, last = links[last][index], candidate.first - 1
        return chosen[::-1]

    @staticmethod
    def _best_before(
        candidate: _Candidate,
        ending: list[list[_Candidate]],
        totals: list[list[float]],
        cheapest: list[tuple[float, int]],
    ) -> tuple[float, int]:
        """The cheapest way to reach the candidate's first word, with the cost of the rules it then breaks."""
        if candidate.first == 0:
            return VIOLATION_COST * candidate.broken_after(0), -1
        previous = candidate.first - 1
        if candidate.in_time:
            return cheapest[previous]  # the cue before does not matter
        options = (
            (totals[previous][k] + VIOLATION_COST * candidate.broken_after(before.end), k)
            for k, before in enumerate(ending[previous])
        )
        return min(options)

    def _candidates(self, last: int) -> list[_Candidate]:
        """Every cue that can end with word ``last``: those that fit two lines, and the word alone."""
        found = []
        for first in range(last, -1, -1):
            if first < last and not self._may_share(first, last):
                break  # longer spans only grow in characters and time
            candidate = self._candidate(first, last)
            if candidate is not None:
                found.append(candidate)
        return found

    def _may_share(self, first: int, last: int) -> bool:
        """Whether words first..last can be one cue: within two lines' characters and the maximum duration."""
        chars = self.chars_before[last + 1] - self.chars_before[first] + last - first
        return chars <= MAX_CUE_CHARS and self.words[last].end - self.words[first].start <= MAX_CUE_MS

    def _candidate(self, first: int, last: int) -> _Candidate | None:
        """Words first..last as one cue; None where they cannot fit two lines."""
        layout = best_layout(self.lengths[first : last + 1], self.breaks[first : last + 1])
        if layout is None:
            if first < last:
                return None
            layout = None, 0.0  # a single word longer than a line: alone, it breaks the least
        split_after, line_cost = layout
        # The line break replaces a space: a viewer reads one character less.
        chars = self.chars_before[last + 1] - self.chars_before[first] + last - first - (split_after is not None)
        start, end = self._times(first, last, chars)
        cost = (
            CUE_COST
            + line_cost
            + CUE_BREAK_WEIGHT * self.breaks[last]
            + self.pause_before[last + 1]
            - self.pause_before[first + 1]
        )
        return _Candidate(first, last, split_after, chars, start, end, cost)

    def _times(self, first: int, last: int, chars: int) -> tuple[int, int]:
        start, spoken_end = self.words[first].start, self.words[last].end
        if spoken_end - start > MAX_CUE_MS:
            # Only a single word gets here (longer spans are never cues): Whisper stretches a word's
            # start back into the silence before it more often than its end, so keep the end.
            start = spoken_end - MAX_CUE_MS
        wanted = max(spoken_end, start + min_duration_ms(chars))
        if last + 1 == len(self.words):
            # No cue follows; the last cue may be held into the silence up to the audio known to be there.
            return start, min(wanted, max(self.audio_end, spoken_end))
        return start, _reach(wanted, spoken_end, self.words[last + 1].start, forward=True)


def _reach(wanted: int, natural: int, limit: int, *, forward: bool) -> int:
    """How far a cue's edge moves from ``natural`` towards ``wanted``, not past ``limit`` (a neighbour).

    A gap of GAP_MS is kept from the neighbour where that still gives all the time wanted; where it
    does not, the cue may touch it, since the rules matter more than the gap.
    """
    step = 1 if forward else -1
    if (wanted - natural) * step <= 0:
        return natural
    roomy = limit - step * GAP_MS
    if (roomy - wanted) * step >= 0:
        return wanted
    reach = wanted if (limit - wanted) * step >= 0 else limit
    return reach if (reach - natural) * step > 0 else natural


def _strictly_ordered(cues: list[tuple[int, int, tuple[str, ...]]]) -> list[tuple[int, int, tuple[str, ...]]]:
    """Each cue after the last one's end and at least 1 ms long, whatever times the model gave.

    Players reject a cue that ends where it starts. Only words without any time (all at one instant)
    make this move a cue; it then keeps its length, so that it does not become too fast to read.
    """
    ordered: list[tuple[int, int, tuple[str, ...]]] = []
    for start, end, lines in cues:
        moved = max(start, ordered[-1][1] if ordered else 0)
        ordered.append((moved, moved + max(end - start, 1), lines))
    return ordered
