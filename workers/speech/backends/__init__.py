"""Recognition of one chunk of audio (at most 30 s), by either backend.

Both return segments with times relative to the chunk. They are built by
:func:`workers.speech.models.load_recogniser`; nothing here reads settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float
    text: str


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
