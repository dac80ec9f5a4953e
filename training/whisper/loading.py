"""Loading Whisper models and processors by Hub id or folder, and saving them so every later step can."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from common.errors import DataError

logger = logging.getLogger(__name__)


def load_processor(model: str, language: str, task: str, *, token: str | None = None) -> Any:
    """The feature extractor and tokenizer of ``model``, the tokenizer prefixing <|sv|><|transcribe|>."""
    from transformers import WhisperProcessor

    try:
        processor = WhisperProcessor.from_pretrained(model, token=token)
    except OSError as exc:
        raise DataError(f"cannot load the Whisper processor of {model}: {exc}") from exc
    processor.tokenizer.set_prefix_tokens(language=language, task=task, predict_timestamps=False)
    return processor


def load_model(model: str, language: str, task: str, *, token: str | None = None) -> Any:
    """The model, its generation set to ``language`` and ``task`` with no forced ids (they are the prompt)."""
    from transformers import WhisperForConditionalGeneration

    try:
        whisper = WhisperForConditionalGeneration.from_pretrained(model, token=token)
    except OSError as exc:
        raise DataError(f"cannot load the Whisper model {model}: {exc}") from exc
    configure_generation(whisper, language, task)
    return whisper


def configure_generation(whisper: Any, language: str, task: str, max_length: int | None = None) -> None:
    whisper.generation_config.language = language
    whisper.generation_config.task = task
    whisper.generation_config.forced_decoder_ids = None
    if max_length:
        whisper.generation_config.max_length = max_length


def save_processor(processor: Any, folder: Path) -> None:
    """The processor plus preprocessor_config.json, the file CTranslate2 and faster-whisper read."""
    processor.save_pretrained(folder)
    processor.feature_extractor.save_pretrained(folder)
