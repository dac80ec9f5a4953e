"""transformers' WhisperForConditionalGeneration: float16 on a GPU, float32 on a CPU.

Each chunk is decoded with timestamps; the timestamp tokens are split here rather than by the
tokenizer, so any Whisper checkpoint (hub, fine-tuned, training export) works the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from workers.speech.backends import Segment

logger = logging.getLogger(__name__)

SECONDS_PER_TIMESTAMP = 0.02


class TransformersRecogniser:
    def __init__(self, model: str, *, device: str, max_new_tokens: int = 220, cpu_threads: int = 0) -> None:
        import torch
        from transformers import AutoProcessor, WhisperForConditionalGeneration

        if device == "cpu" and cpu_threads:
            torch.set_num_threads(cpu_threads)
        self.torch = torch
        self.device = device
        self.dtype = torch.float16 if device == "cuda" else torch.float32
        self.processor = AutoProcessor.from_pretrained(model)
        whisper = WhisperForConditionalGeneration.from_pretrained(model, dtype=self.dtype)
        self.model = whisper.to(device).eval()  # type: ignore[arg-type]  # transformers' stubs wrap .to
        config = self.model.generation_config
        self.end_of_text = int(config.eos_token_id)
        self.timestamp_begin = int(config.no_timestamps_token_id) + 1
        self.max_new_tokens = max_new_tokens

    def recognise(self, audio: np.ndarray, *, language: str, task: str) -> list[Segment]:
        features = self.processor.feature_extractor(audio, sampling_rate=16_000, return_tensors="pt").input_features
        with self.torch.inference_mode():
            ids = self.model.generate(
                features.to(self.device, self.dtype),
                language=language,
                task=task,
                return_timestamps=True,
                max_new_tokens=self.max_new_tokens,
            )
        decode = self.processor.tokenizer.decode
        return split_by_timestamps(ids[0].tolist(), self.timestamp_begin, self.end_of_text, decode, len(audio) / 16_000)


def split_by_timestamps(
    tokens: list[int], timestamp_begin: int, end_of_text: int, decode: Callable[[list[int]], str], length: float
) -> list[Segment]:
    """``<|t0|> text <|t1|><|t1|> text <|t2|>`` as segments; text with no closing time ends at ``length``."""
    segments: list[Segment] = []
    start: float | None = None
    last = 0.0
    text: list[int] = []
    for token in tokens:
        if token >= timestamp_begin:
            time = min((token - timestamp_begin) * SECONDS_PER_TIMESTAMP, length)
            if start is not None and text:
                segments.append(Segment(start, max(time, start), decode(text).strip()))
                text = []
                start = None
            else:
                start = time
            last = time
        elif token < end_of_text:
            text.append(token)
    if text:
        segments.append(Segment(start if start is not None else last, length, decode(text).strip()))
    return [segment for segment in segments if segment.text]
