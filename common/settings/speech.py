"""Speech recognition and translation models and decoding."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.settings.base import Area


class SpeechSettings(Area):
    ASR_MODEL: str = "KBLab/kb-whisper-small"
    MT_MODEL: str | None = None
    ASR_BACKEND: Literal["transformers", "ctranslate2"] = "ctranslate2"
    ASR_DEVICE: Literal["cpu", "cuda", "auto"] = "auto"
    ASR_BEAM_SIZE: int = Field(default=5, ge=1, le=16)
    # Chunks decoded together; unset: 8 on a CPU, 16 on a GPU (see batch_size_for).
    ASR_BATCH_SIZE: int | None = Field(default=None, ge=1, le=128)
    # Divides the scores of tokens already written (1.0: off); see DecodeOptions.repetition_penalty.
    ASR_REPETITION_PENALTY: float = Field(default=1.2, ge=1.0, le=2.0)
    # Speech jobs one worker process holds at once, their windows decoded in shared batches
    # (workers/speech/batcher.py); unset: twice the batch size (the next batch's jobs fetch and
    # search for speech while one batch decodes). 1: one job at a time.
    ASR_JOBS_AT_ONCE: int | None = Field(default=None, ge=1, le=64)

    def batch_size_for(self, device: str) -> int:
        """ASR_BATCH_SIZE, or the default for the resolved device ("cpu" or "cuda")."""
        return self.ASR_BATCH_SIZE or (16 if device == "cuda" else 8)

    def jobs_at_once_for(self, device: str) -> int:
        """ASR_JOBS_AT_ONCE, or two batches' worth of voice notes (one window each)."""
        return self.ASR_JOBS_AT_ONCE or 2 * self.batch_size_for(device)
