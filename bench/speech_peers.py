"""What a user would run instead of this project: faster-whisper's own two pipelines on the same file."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from workers.speech.subtitles import Cue


@dataclass
class PeerRun:
    name: str
    wall_s: float
    text: str
    cues: list[Cue]  # one cue per segment on one line: what a plain SRT writer makes of them


def run_peers(
    model: Path, audio: Path, *, threads: int, beam_size: int, batch_size: int, repetition_penalty: float
) -> list[PeerRun]:
    """``WhisperModel.transcribe`` with its VAD filter, and ``BatchedInferencePipeline`` as it comes
    and with the project's repetition penalty: same model, beam and batch as the project's job,
    loaded before timing; each warmed up on a short clip first."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio

    model_ = WhisperModel(str(model), device="cpu", compute_type="int8", cpu_threads=threads)
    warm_up = decode_audio(str(audio))[: 16_000 * 5]
    pipelines = {
        f"faster-whisper WhisperModel.transcribe (VAD, beam {beam_size})": lambda source: model_.transcribe(
            source, language="sv", beam_size=beam_size, vad_filter=True
        ),
        f"faster-whisper BatchedInferencePipeline (batch {batch_size}, beam {beam_size})": (
            lambda source: BatchedInferencePipeline(model_).transcribe(
                source, language="sv", beam_size=beam_size, batch_size=batch_size
            )
        ),
        f"  the same with repetition_penalty={repetition_penalty}": (
            lambda source: BatchedInferencePipeline(model_).transcribe(
                source,
                language="sv",
                beam_size=beam_size,
                batch_size=batch_size,
                repetition_penalty=repetition_penalty,
            )
        ),
    }
    runs = []
    for name, transcribe in pipelines.items():
        list(transcribe(warm_up)[0])
        started = time.perf_counter()
        segments = list(transcribe(str(audio))[0])  # the generator decodes as it is read
        wall = time.perf_counter() - started
        text = " ".join(segment.text.strip() for segment in segments)
        cues = [Cue(s.start, s.end, (s.text.strip(),)) for s in segments if s.text.strip()]
        runs.append(PeerRun(name, wall, text, cues))
    return runs
