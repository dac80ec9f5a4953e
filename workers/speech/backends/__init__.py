"""Recognition of one chunk of audio (at most 30 s), by either backend.

Both return segments with times relative to the chunk. They are built by
:func:`workers.speech.models.load_recogniser`; nothing here reads settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Word:
    start: float  # seconds, on the same clock as its segment
    end: float
    text: str  # as the model wrote it, with its leading space ("  hej")


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float
    text: str
    words: tuple[Word, ...] = ()  # empty where the backend gave no word timestamps

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        """The inverse of ``dataclasses.asdict`` (the result cache stores segments as JSON)."""
        words = tuple(Word(**word) for word in data.get("words", ()))
        return cls(float(data["start"]), float(data["end"]), str(data["text"]), words)


class Recogniser(Protocol):
    def recognise(self, audio: np.ndarray, *, language: str, task: str) -> list[Segment]:
        """``task`` is Whisper's: "transcribe" or "translate" (into English)."""
        ...


def resolve_device(device: str) -> str:
    """ "auto" -> "cuda" where a GPU is visible to both libraries, else "cpu"."""
    if device != "auto":
        return device
    import ctranslate2
    import torch

    return "cuda" if torch.cuda.is_available() and ctranslate2.get_cuda_device_count() > 0 else "cpu"
