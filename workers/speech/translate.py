"""Swedish segments -> English with a Marian model (MT_MODEL), one batch per call; times unchanged."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


class SegmentTranslator:
    def __init__(self, model: str, device: str, max_new_tokens: int = 256) -> None:
        import torch
        from transformers import MarianMTModel, MarianTokenizer

        self.torch = torch
        self.device = device
        self.tokenizer = MarianTokenizer.from_pretrained(model)
        self.model = MarianMTModel.from_pretrained(model).to(device).eval()  # type: ignore[arg-type]
        # Neither input nor output may pass the model's position table (512 for the Helsinki-NLP models).
        self.max_length = int(self.model.config.max_position_embeddings)
        self.max_new_tokens = min(max_new_tokens, self.max_length - 1)

    def translate(self, texts: list[str]) -> list[str]:
        if not texts:
            return []
        batch = self.tokenizer(
            texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length
        ).to(self.device)
        with self.torch.inference_mode():
            ids = self.model.generate(**batch, max_new_tokens=self.max_new_tokens)
        return [text.strip() for text in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
