"""lang=auto: which language is spoken, heard in several windows spread over the speech.

The first 30 s alone (what Whisper does) is often music, a jingle or an English intro; up to
five windows from the beginning to the end are asked instead, and their per-language
probabilities averaged, weighted by how much speech each holds (a 2 s window says less than a
full one). When no language wins clearly the user is asked to say it, rather than given a
transcript in the wrong language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from common.errors import VideoRejected
from workers.speech import languages
from workers.speech.backends import Recogniser
from workers.speech.chunks import Chunk

MAX_WINDOWS = 5
MIN_PROBABILITY = 0.8  # whisper-base hears robotic Swedish as Latin at 43-74 %; clear speech scores above 0.9
SURE = 0.95  # below it the answer offers to transcribe as the runner-up too

T = TypeVar("T")


@dataclass(frozen=True)
class Heard:
    language: str
    probability: float
    runner_up: str | None = None  # the second likeliest language, when the first was not sure

    def describe(self) -> str:
        return f"heard: {languages.name(self.language)} ({self.language}), {self.probability:.0%}"


def spread(chunks: list[T], count: int = MAX_WINDOWS) -> list[T]:
    """Up to ``count`` chunks, evenly spaced from the first to the last."""
    if len(chunks) <= count:
        return list(chunks)
    if count == 1:
        return [chunks[0]]
    picks = sorted({round(i * (len(chunks) - 1) / (count - 1)) for i in range(count)})
    return [chunks[i] for i in picks]


def average(found: list[dict[str, float]], weights: list[float]) -> dict[str, float]:
    total = sum(weights) or 1.0
    mean: dict[str, float] = {}
    for probabilities, weight in zip(found, weights, strict=True):
        for code, probability in probabilities.items():
            mean[code] = mean.get(code, 0.0) + probability * weight / total
    return mean


def decide(probabilities: dict[str, float], minimum: float = MIN_PROBABILITY) -> Heard:
    """The likeliest language, or VideoRejected naming the two likeliest when none is sure enough."""
    ranked = sorted(probabilities.items(), key=lambda item: -item[1])
    if not ranked:
        raise VideoRejected("I could not tell which language that is; send it again with lang=xx.")
    code, probability = ranked[0]
    if probability < minimum:
        likeliest = [c for c, _ in ranked[:2]]
        guesses = " or ".join(languages.name(c) for c in likeliest)
        raise VideoRejected(
            f"I could not tell which language that is (maybe {guesses}); send it again with lang=xx.",
            buttons=[[f"Transcribe as {languages.name(c)}", f"transcribe:{c}"] for c in likeliest],
        )
    unsure = probability < SURE and len(ranked) > 1
    return Heard(code, probability, ranked[1][0] if unsure else None)


def detect(recogniser: Recogniser, audio: np.ndarray, chunks: list[Chunk], minimum: float = MIN_PROBABILITY) -> Heard:
    """The language of the speech in ``chunks`` (each at most 30 s: one window each)."""
    windows = spread(chunks)
    found = recogniser.detect_language([chunk.samples(audio) for chunk in windows])
    return decide(average(found, [chunk.length for chunk in windows]), minimum)
