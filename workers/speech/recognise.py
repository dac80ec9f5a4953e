"""The speech chunks through a recogniser, a batch at a time; times become times in the whole audio."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from workers.speech.backends import Recogniser, Segment, Word
from workers.speech.chunks import Chunk

AfterBatch = Callable[[float, list[Segment]], list[Segment]]


def recognise_chunks(
    recogniser: Recogniser,
    audio: np.ndarray,
    chunks: Sequence[Chunk | tuple[float, float]],
    *,
    language: str,
    task: str,
    batch_size: int = 8,
    after_batch: AfterBatch = lambda fraction, segments: segments,
) -> list[Segment]:
    """``after_batch(fraction_done, segments)`` may report progress, translate, or raise to stop.

    Chunks are decoded ``batch_size`` at a time: one batch fills the device, and between batches
    the job shows progress and sees /cancel. A (start, end) pair is a chunk of that one span.
    """
    spans = [chunk if isinstance(chunk, Chunk) else Chunk((chunk,)) for chunk in chunks]
    total = sum(chunk.length for chunk in spans) or 1.0
    done = 0.0
    result: list[Segment] = []
    for first in range(0, len(spans), batch_size):
        batch = spans[first : first + batch_size]
        found = recogniser.recognise_batch([chunk.samples(audio) for chunk in batch], language=language, task=task)
        placed = [
            to_audio_time(segment, chunk) for chunk, segments in zip(batch, found, strict=True) for segment in segments
        ]
        done += sum(chunk.length for chunk in batch)
        result.extend(after_batch(done / total, placed))
    return result


def to_audio_time(segment: Segment, chunk: Chunk) -> Segment:
    """A segment of a chunk's joined audio on the whole audio's clock, its words in the regions they were said in."""
    words = tuple(Word(*chunk.span_to_audio(word.start, word.end), word.text) for word in segment.words)
    if words:
        return Segment(words[0].start, max(words[-1].end, words[0].start), segment.text, words)
    start = chunk.to_audio_time(segment.start)
    return Segment(start, max(chunk.to_audio_time(segment.end, end=True), start), segment.text)
