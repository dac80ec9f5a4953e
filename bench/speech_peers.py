"""What a user would run instead of this project: faster-whisper's own two pipelines on the same file."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workers.speech.subtitles import Cue


@dataclass
class PeerRun:
    name: str
    wall_s: float
    text: str
    cues: list[Cue]  # one cue per segment on one line: what a plain SRT writer makes of them
    made_out: float | None = None  # the job's word coverage, where a run has it


def run_peers(
    model: Path,
    audio: Path,
    *,
    threads: int,
    beam_size: int,
    batch_size: int,
    repetition_penalty: float,
    job_samples: np.ndarray | None = None,
) -> list[PeerRun]:
    """``BatchedInferencePipeline`` as it comes and with the project's repetition penalty: same model,
    beam and batch as the project's job, loaded before timing, each warmed up on a short clip first,
    each decoding ``audio`` itself.

    Given ``job_samples`` (what the job decoded from the same file: the last round), also
    ``WhisperModel.transcribe`` with its VAD filter, and the batched pipeline on those samples: the
    same samples in, so that differences in text are the recognition's alone.
    """
    from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio

    model_ = WhisperModel(str(model), device="cpu", compute_type="int8", cpu_threads=threads)
    warm_up = decode_audio(str(audio))[: 16_000 * 5]

    def batched(source: str | np.ndarray, penalty: float = 1.0) -> Iterable[Any]:
        return BatchedInferencePipeline(model_).transcribe(
            source, language="sv", beam_size=beam_size, batch_size=batch_size, repetition_penalty=penalty
        )[0]

    def transcribe(source: str | np.ndarray) -> Iterable[Any]:
        return model_.transcribe(source, language="sv", beam_size=beam_size, vad_filter=True)[0]

    penalised = f"repetition_penalty={repetition_penalty}"
    contenders: list[tuple[str, Callable[[str | np.ndarray], Iterable[Any]], str | np.ndarray]] = [
        (f"faster-whisper BatchedInferencePipeline (batch {batch_size}, beam {beam_size})", batched, str(audio)),
        (f"  the same with {penalised}", lambda source: batched(source, repetition_penalty), str(audio)),
    ]
    if job_samples is not None:
        contenders += [
            (f"faster-whisper WhisperModel.transcribe (VAD, beam {beam_size})", transcribe, str(audio)),
            ("  the batched pipeline on the job's samples, as it comes", batched, job_samples),
            (f"  the same with {penalised}", lambda source: batched(source, repetition_penalty), job_samples),
        ]
    runs = []
    for name, run, source in contenders:
        list(run(warm_up))
        started = time.perf_counter()
        segments = list(run(source))  # the generator decodes as it is read
        wall = time.perf_counter() - started
        text = " ".join(segment.text.strip() for segment in segments)
        cues = [Cue(s.start, s.end, (s.text.strip(),)) for s in segments if s.text.strip()]
        runs.append(PeerRun(name, wall, text, cues))
    return runs
