"""The speech chunks through a recogniser, part by part; times become times in the whole audio."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing

import numpy as np

from workers.speech.audio import SAMPLE_RATE
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

    Chunks are decoded at most ``batch_size`` at a time, in parts (a batch, or a CPU worker's
    share of one); after each part the job shows progress and sees /cancel. Parts may finish out
    of order, so ``after_batch`` gets each part's segments as they come, and the result is in the
    audio's order. A (start, end) pair is a chunk of that one span.
    """
    spans = [chunk if isinstance(chunk, Chunk) else Chunk((chunk,)) for chunk in chunks]
    total = sum(chunk.length for chunk in spans) or 1.0
    done = 0.0
    result: list[Segment] = []
    parts = recogniser.recognise_parts(
        [round(chunk.length * SAMPLE_RATE) for chunk in spans],
        lambda index: spans[index].samples(audio),
        language=language,
        task=task,
        batch_size=batch_size,
    )
    with closing(parts):  # a raise in after_batch (/cancel) stops the recogniser's workers now
        for part, segments in parts:
            placed = [
                to_audio_time(segment, spans[index])
                for index, chunk_segments in zip(part, segments, strict=True)
                for segment in chunk_segments
            ]
            done += sum(spans[index].length for index in part)
            result.extend(after_batch(done / total, placed))
    # Parts come in any order, and a part's chunks need not be consecutive; each chunk's audio
    # comes after the one before it, so the start times put the segments in order.
    return sorted(result, key=lambda segment: segment.start)


def to_audio_time(segment: Segment, chunk: Chunk) -> Segment:
    """A segment of a chunk's joined audio on the whole audio's clock, its words in the regions they were said in."""
    words = tuple(
        Word(*chunk.span_to_audio(word.start, word.end), word.text, word.probability) for word in segment.words
    )
    if words:
        return Segment(words[0].start, max(words[-1].end, words[0].start), segment.text, words)
    start = chunk.to_audio_time(segment.start)
    return Segment(start, max(chunk.to_audio_time(segment.end, end=True), start), segment.text)
