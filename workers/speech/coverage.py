"""How much of the heard speech a transcript makes out, and the stretches it does not. Pure functions.

The speech detector says where speech is; the transcript's words say what was made of it. A word
is made out when the model is reasonably sure of it (its alignment probability); the pause
between two made-out words, and the detector's padding around them, count as covered. Coverage
is the share of the detector's speech seconds covered so; below ``REPORT_BELOW`` the answer
names the stretches that were not made out, instead of leaving them out without a word.

Measured with whisper-base on espeak-ng Swedish (two corpora, speaking rates 140-190 words a
minute): real speech has a fifth to a third of its words below ``WORD_PROBABILITY``, scattered
between sure ones; reversed speech, which is speech to the detector and words to nobody, has
half or more, in runs. See README "Speech" for the figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from workers.speech.backends import Segment

Span = tuple[float, float]

WORD_PROBABILITY = 0.3  # a word the model is at least this sure of is made out
BRIDGE_S = 1.5  # a stretch between two made-out words this short counts as covered
EDGE_S = 0.4  # around made-out speech: the detector's own padding (chunks.SPEECH_PAD_MS)
REPORT_BELOW = 0.9  # an answer with less coverage names what it could not make out
MIN_MISSED_S = 1.0  # a missed stretch shorter than this is not named
MAX_NAMED = 5  # an answer names at most this many stretches, the longest


@dataclass(frozen=True)
class Coverage:
    speech_s: float  # seconds of speech the detector heard
    covered_s: float  # of those, the seconds the transcript covers
    missed: tuple[Span, ...] = ()  # the stretches not made out, at least MIN_MISSED_S each, in order

    @property
    def share(self) -> float:
        return self.covered_s / self.speech_s if self.speech_s > 0 else 1.0

    def to_dict(self) -> dict[str, object]:
        return {"speech_s": self.speech_s, "covered_s": self.covered_s, "missed": [list(span) for span in self.missed]}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Coverage:
        missed = data["missed"]
        if not isinstance(missed, list):
            raise TypeError("missed is not a list of spans")
        spans = tuple((float(start), float(end)) for start, end in missed)
        return cls(float(data["speech_s"]), float(data["covered_s"]), spans)  # type: ignore[arg-type]


def measure(regions: Sequence[Span], segments: Sequence[Segment]) -> Coverage:
    """The coverage of the detector's speech ``regions`` by the made-out words of ``segments``."""
    covered = _merge(_made_out(segments), BRIDGE_S)
    covered = [(start - EDGE_S, end + EDGE_S) for start, end in covered]
    speech = _merge(regions, 0.0)
    inside = [span for region in speech for span in _intersect(region, covered)]
    speech_s = sum(end - start for start, end in speech)
    covered_s = sum(end - start for start, end in inside)
    gaps = [gap for region in speech for gap in _subtract(region, covered)]
    missed = tuple(span for span in _merge(gaps, MIN_MISSED_S) if span[1] - span[0] >= MIN_MISSED_S)
    return Coverage(round(speech_s, 2), round(min(covered_s, speech_s), 2), missed)


def notice(coverage: Coverage) -> str | None:
    """The sentence an answer with too little coverage carries, or None."""
    if coverage.share >= REPORT_BELOW or not coverage.missed:
        return None
    return f"I could not make out {listing(coverage.missed)} ({coverage.share:.0%} of the speech made out)."


def listing(spans: Sequence[Span]) -> str:
    """0:00-0:31, 1:02-1:10 and 2:00-2:05; past MAX_NAMED spans, the longest ones, in order, and how many more."""
    named = sorted(sorted(spans, key=lambda span: span[0] - span[1])[:MAX_NAMED])
    words = [f"{clock(start)}-{clock(end)}" for start, end in named]
    if len(spans) > MAX_NAMED:
        return ", ".join(words) + f" and {len(spans) - MAX_NAMED} shorter stretches"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def clock(seconds: float) -> str:
    """0:31, 1:02:05: how the answer names a time."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _made_out(segments: Sequence[Segment]) -> list[Span]:
    """Made-out words; a segment without words (no alignment, or translated text) counts whole."""
    spans: list[Span] = []
    for segment in segments:
        if not segment.words:
            if segment.text.strip():
                spans.append((segment.start, segment.end))
            continue
        spans.extend((w.start, w.end) for w in segment.words if w.probability >= WORD_PROBABILITY and w.text.strip())
    return spans


def _merge(spans: Iterable[Span], bridge: float) -> list[Span]:
    """Spans in order, those less than ``bridge`` apart joined."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start - merged[-1][1] <= bridge:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _intersect(region: Span, spans: Sequence[Span]) -> list[Span]:
    return [(max(region[0], a), min(region[1], b)) for a, b in spans if a < region[1] and b > region[0]]


def _subtract(region: Span, spans: Sequence[Span]) -> list[Span]:
    """The parts of ``region`` that no span (in order, not overlapping) covers."""
    gaps: list[Span] = []
    position = region[0]
    for start, end in _intersect(region, spans):
        if start > position:
            gaps.append((position, start))
        position = max(position, end)
    if position < region[1]:
        gaps.append((position, region[1]))
    return gaps
