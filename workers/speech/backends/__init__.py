"""Recognition of a batch of audio pieces (each at most 30 s), by either backend.

Both return segments with times relative to their piece, words included where the backend
aligns them. They are built by :func:`workers.speech.models.load_recogniser` with a
:class:`~workers.speech.backends.decoding.DecodeOptions`; nothing here reads settings.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Word:
    start: float  # seconds, on the same clock as its segment
    end: float
    text: str  # as the model wrote it, with its leading space ("  hej")
    probability: float = 1.0  # the model's confidence in the word's tokens (1.0: the backend gives none)


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


Window = tuple[np.ndarray, str, str]  # 16 kHz samples (at most 30 s), its job's language and task


class Recogniser(Protocol):
    lanes: int  # batches that can run side by side (CPU workers; 1 on a GPU)
    lane_windows: int | None  # the most windows one lane decodes together (None: its share of a batch)

    def recognise_windows(self, windows: Sequence[Window]) -> list[list[Segment]]:
        """Windows of any jobs in one batch, each with its own language and task; times within each window.

        A window's segments are the same whatever windows share its batch (workers/speech/batcher.py
        relies on it).
        """
        ...

    def recognise_batch(self, pieces: Sequence[np.ndarray], *, language: str, task: str) -> list[list[Segment]]:
        """The segments of each 16 kHz piece (at most 30 s), decoded together; times within the piece.

        ``task`` is Whisper's: "transcribe" or "translate" (into English). Silence gives no
        segment; a repetition loop is decoded again or cut (see workers.speech.loops).
        """
        ...

    def recognise_parts(
        self,
        lengths: Sequence[int],
        piece: Callable[[int], np.ndarray],
        *,
        language: str,
        task: str,
        batch_size: int,
    ) -> Generator[tuple[list[int], list[list[Segment]]], None, None]:
        """A job's pieces (``piece(i)``, ``lengths[i]`` samples long), at most ``batch_size`` at a time:
        (indices, their segments) for each part as it is done, parts not necessarily in order.

        Closing the iterator early (a cancelled job) leaves nothing of the job running.
        """
        ...

    def recognise(self, audio: np.ndarray, *, language: str, task: str) -> list[Segment]:
        """One piece: ``recognise_batch([audio], ...)[0]``."""
        ...

    def detect_language(self, windows: Sequence[np.ndarray]) -> list[dict[str, float]]:
        """For each window (at most 30 s), the probability of each language code ("sv": 0.93, ...)."""
        ...


def resolve_device(device: str, *, torch_too: bool = False) -> str:
    """ "auto" -> "cuda" where CTranslate2 sees a GPU (and torch too, when ``torch_too``), else "cpu".

    CTranslate2 answers for itself, so the default install (no torch) picks its device without
    torch; the transformers backend and Marian (``torch_too``) need torch to see the GPU as well.
    """
    if device != "auto":
        return device
    import ctranslate2

    gpu = ctranslate2.get_cuda_device_count() > 0
    if gpu and torch_too:
        import torch

        gpu = torch.cuda.is_available()
    return "cuda" if gpu else "cpu"
