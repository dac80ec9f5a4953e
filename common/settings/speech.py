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
    # (workers/speech/batcher.py); unset: twice the windows the model decodes at once (the next
    # ones' jobs fetch and search for speech meanwhile). 1: one job at a time.
    ASR_JOBS_AT_ONCE: int | None = Field(default=None, ge=1, le=64)

    def batch_size_for(self, device: str) -> int:
        """ASR_BATCH_SIZE, or the default for the resolved device ("cpu" or "cuda")."""
        return self.ASR_BATCH_SIZE or (16 if device == "cuda" else 8)

    def jobs_at_once_for(self, device: str, windows_at_once: int | None = None) -> int:
        """ASR_JOBS_AT_ONCE, or twice the windows the loaded model decodes at once (voice notes are one
        window each): 8 on two CPU cores, 2 x ASR_BATCH_SIZE on a GPU and where no model is loaded."""
        return self.ASR_JOBS_AT_ONCE or 2 * (windows_at_once or self.batch_size_for(device))
