"""Every speech chunk through a recogniser; segment times become times in the whole audio."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from workers.speech.audio import SAMPLE_RATE
from workers.speech.backends import Recogniser, Segment


def recognise_chunks(
    recogniser: Recogniser,
    audio: np.ndarray,
    chunks: list[tuple[float, float]],
    *,
    language: str,
    task: str,
    after_chunk: Callable[[float, list[Segment]], list[Segment]] = lambda fraction, segments: segments,
) -> list[Segment]:
    """``after_chunk(fraction_done, segments)`` may report progress, translate, or raise to stop."""
    total = sum(end - start for start, end in chunks) or 1.0
    done = 0.0
    result: list[Segment] = []
    for start, end in chunks:
        length = end - start
        found = recogniser.recognise(
            audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)], language=language, task=task
        )
        shifted = [
            Segment(start + min(s.start, length), start + min(max(s.end, s.start), length), s.text) for s in found
        ]
        done += length
        result.extend(after_chunk(done / total, shifted))
    return result
