"""Where the speech is: the speech detector finds it, and the speech is packed into chunks of <= 30 s.

A chunk is one or more speech regions, in order, whose audio is joined with the silence between
them left out (as faster-whisper's batched pipeline does): each chunk fills Whisper's 30 s
window, so fewer windows are encoded and decoded, and a pause of a minute costs nothing. Chunks
are what both backends recognise; silence is answered without running the model at all.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

from common.errors import VideoRejected
from workers.speech.audio import SAMPLE_RATE

MAX_CHUNK_S = 30.0
# faster-whisper's batched pipeline's detector settings: short pauses split regions, so that a
# chunk can end close to 30 s, and 0.4 s of context stays on either side of the speech (pads of
# 0.2 s clipped word edges and cost a few points of WER on espeak-ng Swedish).
MIN_SILENCE_MS = 160
SPEECH_PAD_MS = 400
SPLIT_ABOVE_S = 120  # longer audio is searched for speech in two halves at once
VAD_WINDOW = 512  # samples: Silero's step
WARM_UP_S = 30  # seconds the second part's detector hears before the cut


@dataclass(frozen=True)
class Chunk:
    regions: tuple[tuple[float, float], ...]  # (start, end) seconds of speech in the audio, in order

    @property
    def start(self) -> float:
        return self.regions[0][0]

    @property
    def end(self) -> float:
        return self.regions[-1][1]

    @property
    def length(self) -> float:
        """Seconds of audio in the chunk: its regions, not the pauses between them."""
        return sum(end - start for start, end in self.regions)

    def samples(self, audio: np.ndarray) -> np.ndarray:
        # round: the detector works in samples, and seconds * 16000 may land a hair below an integer
        pieces = [audio[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)] for start, end in self.regions]
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def to_audio_time(self, seconds: float, *, end: bool = False) -> float:
        """A time in the chunk's joined audio as a time in the whole audio.

        A time exactly where two regions meet is the end of the first (``end``) or the start of
        the second.
        """
        offset = 0.0
        for start, stop in self.regions:
            length = stop - start
            if seconds < offset + length or (end and seconds <= offset + length):
                return start + min(max(seconds - offset, 0.0), length)
            offset += length
        return self.end

    def span_to_audio(self, start: float, end: float) -> tuple[float, float]:
        """A word's times: both in the region that holds its middle, so that no word spans a pause."""
        offset = 0.0
        middle = (start + end) / 2
        for index, (region_start, region_end) in enumerate(self.regions):
            length = region_end - region_start
            if middle < offset + length or index == len(self.regions) - 1:
                return (
                    region_start + min(max(start - offset, 0.0), length),
                    region_start + min(max(end - offset, 0.0), length),
                )
            offset += length
        return self.end, self.end  # no regions: not made by speech_chunks


def speech_chunks(audio: np.ndarray, *, max_chunk_s: float = MAX_CHUNK_S) -> list[Chunk]:
    """The chunks that hold speech, each at most ``max_chunk_s`` long; VideoRejected when there is none."""
    options = VadOptions(
        min_silence_duration_ms=MIN_SILENCE_MS, speech_pad_ms=SPEECH_PAD_MS, max_speech_duration_s=max_chunk_s
    )
    regions = [(start / SAMPLE_RATE, end / SAMPLE_RATE) for start, end in _speech(audio, options)]
    if not regions:
        raise VideoRejected("I heard no speech in that video.")
    chunks: list[list[tuple[float, float]]] = []
    length = 0.0
    for start, end in regions:
        if chunks and length + (end - start) <= max_chunk_s:
            chunks[-1].append((start, end))
            length += end - start
        else:
            chunks.append([(start, end)])
            length = end - start
    return [Chunk(tuple(chunk)) for chunk in chunks]


def _speech(audio: np.ndarray, options: VadOptions) -> list[tuple[int, int]]:
    """(start, end) samples of speech, as one pass of the detector over the audio finds them.

    The detector runs on one thread while the other core waits, so long audio is searched in two
    parts side by side, cut in the quietest second of the middle third of the work (centred where
    the two parts take equally long). The second part starts WARM_UP_S before the cut and keeps
    only what starts after it: the detector's memory of the audio before fades within seconds,
    and the regions come out the same as in one pass.
    """
    if len(audio) < SPLIT_ABOVE_S * SAMPLE_RATE:
        return [(r["start"], r["end"]) for r in get_speech_timestamps(audio, options)]
    warm = WARM_UP_S * SAMPLE_RATE // VAD_WINDOW * VAD_WINDOW
    cut = quiet_cut(audio, warm)
    with ThreadPoolExecutor(2) as pool:
        first, rest = pool.map(lambda part: get_speech_timestamps(part, options), (audio[:cut], audio[cut - warm :]))
    later = [(r["start"] + cut - warm, r["end"] + cut - warm) for r in rest]
    return [(r["start"], r["end"]) for r in first] + [region for region in later if region[0] >= cut]


def quiet_cut(audio: np.ndarray, warm: int) -> int:
    """Where to cut ``audio`` for ``_speech``: a sample in the quietest second of the middle third of
    the work (the second part also hears ``warm`` samples before the cut), on the detector's grid.

    Of equally quiet seconds (digital silence is all zeros) the one nearest the middle is taken,
    so that the two parts take equally long.
    """
    frame = SAMPLE_RATE // 10
    middle = (len(audio) + warm) // 2  # the first part up to here, the second from here less its warm-up
    low, high = (middle - len(audio) // 6) // frame, (middle + len(audio) // 6) // frame
    energy = np.square(audio[low * frame : high * frame]).reshape(-1, frame).mean(axis=1)
    quiet = np.convolve(energy, np.ones(10), mode="valid")  # each second, in steps of 0.1 s
    distance = np.abs(low + 5 + np.arange(len(quiet)) - middle // frame)
    cut = (low + int(np.lexsort((distance, quiet))[0]) + 5) * frame  # the middle of that second
    return cut - cut % VAD_WINDOW
