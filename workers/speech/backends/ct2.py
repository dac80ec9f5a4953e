"""faster-whisper (CTranslate2): float16 on a GPU, int8 on a CPU."""

from __future__ import annotations

import logging

import numpy as np

from workers.speech.backends import Segment

logger = logging.getLogger(__name__)


class FasterWhisperRecogniser:
    def __init__(
        self,
        model: str,
        *,
        device: str,
        compute_type: str | None = None,
        cpu_threads: int = 0,
        beam_size: int = 1,
        temperatures: tuple[float, ...] = (0.0,),
        max_new_tokens: int | None = None,
    ) -> None:
        from faster_whisper import WhisperModel

        self.compute_type = compute_type or ("float16" if device == "cuda" else "int8")
        self.model = WhisperModel(model, device=device, compute_type=self.compute_type, cpu_threads=cpu_threads)
        self.beam_size = beam_size
        # Greedy only by default: the same audio gives the same text, which the result cache relies
        # on; chunks end at pauses, so the sampling fallback for runaway long-form decoding is rarely needed.
        self.temperatures = list(temperatures)
        self.max_new_tokens = max_new_tokens

    def recognise(self, audio: np.ndarray, *, language: str, task: str) -> list[Segment]:
        segments, _ = self.model.transcribe(
            audio,
            language=language if self.model.model.is_multilingual else "en",
            task=task,
            beam_size=self.beam_size,
            temperature=self.temperatures,
            max_new_tokens=self.max_new_tokens,
            vad_filter=False,  # the pipeline cut the audio at pauses already
            condition_on_previous_text=False,
        )
        return [Segment(s.start, s.end, s.text.strip()) for s in segments if s.text.strip()]
