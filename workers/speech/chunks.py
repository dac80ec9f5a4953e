"""Where the speech is: the speech detector finds it, and long audio is cut at pauses.

Chunks of at most 30 s (Whisper's window) are what both backends recognise, so progress and
cancellation happen between chunks, and silence is answered without running the model at all.
"""

from __future__ import annotations

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

from common.errors import VideoRejected
from workers.speech.audio import SAMPLE_RATE

MAX_CHUNK_S = 30.0


def speech_chunks(audio: np.ndarray, *, max_chunk_s: float = MAX_CHUNK_S) -> list[tuple[float, float]]:
    """(start, end) seconds of chunks that hold speech; VideoRejected when there is none."""
    options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=200, max_speech_duration_s=max_chunk_s - 1)
    regions = [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in get_speech_timestamps(audio, options)]
    if not regions:
        raise VideoRejected("I heard no speech in that video.")
    chunks: list[tuple[float, float]] = []
    for start, end in regions:
        if chunks and end - chunks[-1][0] <= max_chunk_s:
            chunks[-1] = (chunks[-1][0], end)
        else:
            chunks.append((start, end))
    return chunks
