"""transformers' WhisperForConditionalGeneration, batched: float16 on a GPU, float32 on a CPU.

A batch of pieces is padded to Whisper's 30 s window (the encoder takes no attention mask: its
input is always the full window) and decoded with timestamps by one beam search; the timestamp
tokens are split here rather than by the tokenizer, so any Whisper checkpoint (hub, fine-tuned,
training export) works the same way. One teacher-forced pass over what was generated gives the
scores the silence check needs. The beam search has a repetition penalty; a piece that loops all
the same is sampled once per fallback temperature (torch's seed set before each). Segments carry
no word timestamps in this backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np

from workers.speech.backends import Segment, Window
from workers.speech.backends.decoding import (
    Decoded,
    DecodeOptions,
    settle,
    token_budget,
    trim_segment_text,
)
from workers.speech.backends.parts import Part, in_order

logger = logging.getLogger(__name__)

SECONDS_PER_TIMESTAMP = 0.02
SAMPLE_RATE = 16_000
SAMPLE_LEN = 224  # Whisper's own limit of new tokens per window


class TransformersRecogniser:
    def __init__(
        self,
        model: str,
        *,
        device: str,
        cpu_threads: int = 0,
        options: DecodeOptions = DecodeOptions(),  # noqa: B008  # frozen, so one shared default is safe
    ) -> None:
        import torch
        from transformers import AutoProcessor, WhisperForConditionalGeneration

        if device == "cpu" and cpu_threads:
            torch.set_num_threads(cpu_threads)
        self.torch = torch
        self.device = device
        self.options = options
        self.dtype = torch.float16 if device == "cuda" else torch.float32
        self.processor = AutoProcessor.from_pretrained(model)
        whisper = WhisperForConditionalGeneration.from_pretrained(model, dtype=self.dtype)
        self.model = whisper.to(device).eval()  # type: ignore[arg-type]  # transformers' stubs wrap .to
        config = self.model.generation_config
        self.config = config
        self.end_of_text = int(config.eos_token_id)
        self.timestamp_begin = int(config.no_timestamps_token_id) + 1
        self.multilingual = bool(getattr(config, "is_multilingual", False) and getattr(config, "lang_to_id", None))
        tokenizer = self.processor.tokenizer
        # Newer checkpoints call it <|nospeech|>, the first ones <|nocaptions|>.
        ids = [tokenizer.convert_tokens_to_ids(t) for t in ("<|nospeech|>", "<|nocaptions|>")]
        self.no_speech = next((i for i in ids if i is not None and i != tokenizer.unk_token_id), None)

    def recognise(self, audio: np.ndarray, *, language: str, task: str) -> list[Segment]:
        return self.recognise_batch([audio], language=language, task=task)[0]

    def recognise_parts(
        self,
        lengths: Sequence[int],
        piece: Callable[[int], np.ndarray],
        *,
        language: str,
        task: str,
        batch_size: int,
    ) -> Generator[tuple[Part, list[list[Segment]]], None, None]:
        for part in in_order(len(lengths), batch_size):
            yield part, self.recognise_batch([piece(i) for i in part], language=language, task=task)

    lanes = 1  # torch spreads one batch over the cores itself
    lane_windows = None  # the whole batch

    def recognise_windows(self, windows: Sequence[Window]) -> list[list[Segment]]:
        """Windows of several jobs: one batch per (language, task) among them (transformers' generate
        takes one prompt for a whole batch)."""
        groups: dict[tuple[str, str], list[int]] = {}
        for index, (_, language, task) in enumerate(windows):
            groups.setdefault((language, task), []).append(index)
        found: dict[int, list[Segment]] = {}
        for (language, task), rows in groups.items():
            segments = self.recognise_batch([windows[i][0] for i in rows], language=language, task=task)
            found.update(zip(rows, segments, strict=True))
        return [found[index] for index in range(len(windows))]

    def recognise_batch(self, pieces: Sequence[np.ndarray], *, language: str, task: str) -> list[list[Segment]]:
        if not pieces:
            return []
        language, task = (language, task) if self.multilingual else ("en", "transcribe")
        features = self._features(pieces)
        budget = token_budget(max(len(piece) for piece in pieces) / SAMPLE_RATE, self.options)
        generated = self._generate(
            features, language, task, budget, num_beams=self.options.beam_size,
            repetition_penalty=self.options.repetition_penalty,
        )  # fmt: skip
        scores = self._scores(features, self._prompt(language, task), generated)
        results: list[list[Segment]] = []
        for index, (tokens, (average, no_speech)) in enumerate(zip(generated, scores, strict=True)):
            first = Decoded(tokens, self._text(tokens), average, no_speech)

            def resample(temperature: float, index: int = index) -> Decoded:
                logger.info("decoding a looping piece again at temperature %.1f", temperature)
                self.torch.manual_seed(self.options.seed)
                again = self._generate(
                    features[index : index + 1], language, task, budget, do_sample=True, temperature=temperature,
                    num_beams=1,
                )[0]  # fmt: skip
                return Decoded(again, self._text(again))

            decoded = settle(first, resample, self.options)
            length = len(pieces[index]) / SAMPLE_RATE
            segments = split_by_timestamps(decoded.tokens, self.timestamp_begin, self.end_of_text, self._decode, length)
            results.append(trim_segment_text(segments) if decoded.looping else segments)
        return results

    def detect_language(self, windows: Sequence[np.ndarray]) -> list[dict[str, float]]:
        if not self.multilingual:
            return [{"en": 1.0} for _ in windows]
        languages = {token[2:-2]: int(i) for token, i in self.config.lang_to_id.items()}
        start = self.torch.tensor([[int(self.config.decoder_start_token_id)]] * len(windows), device=self.device)
        with self.torch.inference_mode():
            logits = self.model(input_features=self._features(windows), decoder_input_ids=start).logits[:, 0]
        # As Whisper does: the softmax over the language tokens only.
        probabilities = logits[:, list(languages.values())].float().softmax(dim=-1).cpu().numpy()
        return [dict(zip(languages, map(float, row), strict=True)) for row in probabilities]

    def _features(self, pieces: Sequence[np.ndarray]) -> Any:
        extract = self.processor.feature_extractor
        features = extract(list(pieces), sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
        return features.to(self.device, self.dtype)

    def _generate(self, features: Any, language: str, task: str, tokens: int, **search: Any) -> list[list[int]]:
        """The generated tokens of each piece (timestamps included), up to the end of text."""
        languages = {"language": language, "task": task} if self.multilingual else {}
        with self.torch.inference_mode():
            ids = self.model.generate(
                features, **languages, return_timestamps=True, max_new_tokens=min(tokens, SAMPLE_LEN), **search
            )
        sequences = []
        for row in ids.tolist():
            # The prompt is not returned; padding after the end of text is.
            end = row.index(self.end_of_text) if self.end_of_text in row else len(row)
            sequences.append(row[:end])
        return sequences

    def _prompt(self, language: str, task: str) -> list[int]:
        start = int(self.config.decoder_start_token_id)
        if not self.multilingual:
            return [start]
        return [start, int(self.config.lang_to_id[f"<|{language}|>"]), int(self.config.task_to_id[task])]

    def _scores(self, features: Any, prompt: list[int], generated: list[list[int]]) -> list[tuple[float, float]]:
        """(average log probability of the tokens and end of text, no-speech probability) per piece."""
        torch = self.torch
        longest = max(len(tokens) for tokens in generated) + 1
        rows = [prompt + tokens + [self.end_of_text] * (longest - len(tokens)) for tokens in generated]
        ids = torch.tensor(rows, device=self.device)
        with torch.inference_mode():
            logprobs = self.model(input_features=features, decoder_input_ids=ids[:, :-1]).logits.float().log_softmax(-1)
        scores = []
        for row, tokens in enumerate(generated):
            # The logits at position p predict token p + 1; the text starts after the prompt.
            first = len(prompt) - 1
            targets = ids[row, first + 1 : first + 2 + len(tokens)]
            picked = logprobs[row, first : first + 1 + len(tokens)].gather(-1, targets[:, None])
            no_speech = logprobs[row, 0].exp()[self.no_speech].item() if self.no_speech is not None else 0.0
            scores.append((float(picked.sum().item()) / (len(tokens) + 1), float(no_speech)))
        return scores

    def _text(self, tokens: list[int]) -> str:
        return self._decode([token for token in tokens if token < self.end_of_text])

    def _decode(self, tokens: list[int]) -> str:
        return str(self.processor.tokenizer.decode(tokens))


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
