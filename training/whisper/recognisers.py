"""Speech recognition from log-mel features, by a transformers model or a CTranslate2 export.

Evaluation runs on the stored features, not on audio, so both backends are fed the very same input
and a fine-tuned checkpoint compares fairly with the version the speech workers serve.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

import numpy as np

logger = logging.getLogger(__name__)

DECODER_LIMIT = 448  # Whisper's decoder positions, prompt included


class Recogniser(Protocol):
    def recognise(self, features: np.ndarray, language: str, task: str, max_length: int) -> list[str]: ...


def is_ctranslate2(folder: Path) -> bool:
    return (folder / "model.bin").is_file()


def open_recogniser(location: str, device: str, *, token: str | None = None) -> Recogniser:
    folder = Path(location)
    if folder.is_dir() and is_ctranslate2(folder):
        return CTranslate2Recogniser(folder, device)
    return TransformersRecogniser(location, device, token=token)


def _device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class TransformersRecogniser:
    def __init__(self, location: str, device: str, *, token: str | None = None) -> None:
        from training.whisper.loading import load_model, load_processor

        self.device = _device(device)
        # Language and task are chosen per call; the ones given here are only the loaders' defaults.
        self.processor = load_processor(location, "sv", "transcribe", token=token)
        self.model = load_model(location, "sv", "transcribe", token=token).to(self.device).eval()

    def recognise(self, features: np.ndarray, language: str, task: str, max_length: int) -> list[str]:
        import torch

        inputs = torch.from_numpy(np.asarray(features, dtype=np.float32)).to(self.device, self.model.dtype)
        with torch.inference_mode():
            tokens = self.model.generate(
                input_features=inputs, language=language, task=task,
                max_new_tokens=min(max_length, DECODER_LIMIT - 4),
            )
        return [text.strip() for text in self.processor.tokenizer.batch_decode(tokens, skip_special_tokens=True)]


class CTranslate2Recogniser:
    """Greedy decoding with the prompt faster-whisper sends: <|startoftranscript|><|sv|><|task|><|notimestamps|>."""

    def __init__(self, folder: Path, device: str) -> None:
        import ctranslate2
        import tokenizers

        self.model = ctranslate2.models.Whisper(str(folder), device=_device(device), compute_type="default")
        self.tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))

    def recognise(self, features: np.ndarray, language: str, task: str, max_length: int) -> list[str]:
        import ctranslate2

        prompt = ["<|startoftranscript|>", f"<|{language}|>", f"<|{task}|>", "<|notimestamps|>"]
        batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(features, dtype=np.float32))
        # CTranslate2 caps new tokens at half of max_length.
        results: Any = self.model.generate(
            batch, [prompt] * len(features), beam_size=1, max_length=min(2 * max_length, DECODER_LIMIT),
        )
        size = self.tokenizer.get_vocab_size()
        return [
            self.tokenizer.decode([i for i in result.sequences_ids[0] if i < size], skip_special_tokens=True).strip()
            for result in results
        ]
