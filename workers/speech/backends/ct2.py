"""faster-whisper's CTranslate2 Whisper, batched: float16 on a GPU, int8 on a CPU.

A batch of pieces is one ``encode``, one beam search ``generate`` and one ``align``: the text is
decoded without timestamp tokens (fewer tokens, as faster-whisper's batched pipeline does), and
the word alignment gives the times; segments are cut from the words. faster-whisper supplies the
model, its feature extractor and tokenizer, and its word alignment (DTW on the alignment heads).

On a CPU the job's pieces are shared out to single-threaded CTranslate2 workers that run side by
side (measured on two cores with whisper-base, against one worker with two threads: encoding takes
an eighth less time this way, beam search a tenth less, alignment over a quarter less), each with its
share of the whole job, in parts of its share of a batch (see parts.py).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens, merge_punctuations
from faster_whisper.utils import download_model

from workers.speech import loops
from workers.speech.backends import Segment, Window, Word
from workers.speech.backends.decoding import (
    Decoded,
    DecodeOptions,
    segments_from_words,
    settle,
    tidy_words,
    token_budget,
)
from workers.speech.backends.parts import Part, in_order, plan, side_by_side

logger = logging.getLogger(__name__)

CPU_LANE_WINDOWS = 2  # see FasterWhisperRecogniser.lane_windows

# faster-whisper's defaults for word timestamps: quotes and brackets join the word they open or
# close, punctuation the word before it.
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"


class FasterWhisperRecogniser:
    def __init__(
        self,
        model: str,
        *,
        device: str,
        compute_type: str | None = None,
        cpu_threads: int = 0,
        options: DecodeOptions = DecodeOptions(),  # noqa: B008  # frozen, so one shared default is safe
    ) -> None:
        self.path = model if Path(model).is_dir() else _fetch(model)
        self.device = device
        self.compute_type = compute_type or ("float16" if device == "cuda" else "int8")
        self.options = options
        threads = cpu_threads or _cores()
        # A GPU takes the whole batch at once; a CPU gets one worker per thread (see above).
        self.workers = 1 if device == "cuda" else max(1, min(threads, options.batch_size))
        self.threads = max(1, threads // self.workers)
        self.model = WhisperModel(
            self.path, device=device, compute_type=self.compute_type, cpu_threads=self.threads, num_workers=self.workers
        )
        self.multilingual = bool(self.model.model.is_multilingual)
        self.frames = int(self.model.feature_extractor.nb_max_frames)  # 3000: the model's 30 s window
        self.hop = int(self.model.feature_extractor.hop_length)
        self.sample_rate = int(self.model.feature_extractor.sampling_rate)
        self._tokenizer = cache(self._make_tokenizer)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="asr") if self.workers > 1 else None

    def recognise(self, audio: np.ndarray, *, language: str, task: str) -> list[Segment]:
        return self.recognise_batch([audio], language=language, task=task)[0]

    def recognise_batch(self, pieces: Sequence[np.ndarray], *, language: str, task: str) -> list[list[Segment]]:
        found: dict[int, list[Segment]] = {}
        parts = self.recognise_parts(
            [len(piece) for piece in pieces], pieces.__getitem__, language=language, task=task, batch_size=len(pieces)
        )
        for part, segments in parts:
            found.update(zip(part, segments, strict=True))
        return [found[i] for i in range(len(pieces))]

    def recognise_parts(
        self,
        lengths: Sequence[int],
        piece: Callable[[int], np.ndarray],
        *,
        language: str,
        task: str,
        batch_size: int,
    ) -> Generator[tuple[Part, list[list[Segment]]], None, None]:
        tokenizer = self._tokenizer(language, task)

        def recognise(part: Part) -> list[list[Segment]]:
            return self._recognise([piece(i) for i in part], [tokenizer] * len(part))

        if self._pool is None or len(lengths) < 2:
            return ((part, recognise(part)) for part in in_order(len(lengths), batch_size))
        part_size = -(-batch_size // self.workers)  # the batch shared out: at most batch_size pieces at once
        return side_by_side(plan(lengths, self.workers, part_size), recognise, self._pool)

    @property
    def lanes(self) -> int:
        """Batches that can run side by side: one per CPU worker, one on a GPU."""
        return self.workers

    @property
    def lane_windows(self) -> int | None:
        """The most windows a CPU worker decodes together (None: the batch's share).

        Measured on two shared cores, whisper-base int8, eight windows of 15-18 s over two workers:
        batches of 2 took 0.70 to 0.89 of the time batches of 4 did (three rounds); a single thread
        gains nothing from a larger batch, and the beams' copies of the encoder output outgrow the caches.
        """
        return CPU_LANE_WINDOWS if self.device == "cpu" else None

    def recognise_windows(self, windows: Sequence[Window]) -> list[list[Segment]]:
        """Windows of any jobs in one batch: each row has its own prompt (language and task)."""
        tokenizers = [self._tokenizer(language, task) for _, language, task in windows]
        return self._recognise([samples for samples, _, _ in windows], tokenizers)

    def detect_language(self, windows: Sequence[np.ndarray]) -> list[dict[str, float]]:
        if not self.multilingual:
            return [{"en": 1.0} for _ in windows]
        found = self.model.model.detect_language(self.model.encode(self._features(windows)))
        # Tokens look like "<|sv|>".
        return [{token[2:-2]: probability for token, probability in window} for window in found]

    def _recognise(self, pieces: list[np.ndarray], tokenizers: list[Tokenizer]) -> list[list[Segment]]:
        """Encode, beam search, the fallback of looping pieces, then the alignment.

        Each piece has its own prompt (its language and task) and its own token budget, so that
        its text does not depend on the pieces it shares the batch with.
        """
        prompts = [[*tokenizer.sot_sequence, tokenizer.no_timestamps] for tokenizer in tokenizers]
        features = self._features(pieces)
        encoded = self.model.encode(features)
        seconds = [len(piece) / self.sample_rate for piece in pieces]
        search = {"beam_size": self.options.beam_size, "repetition_penalty": self.options.repetition_penalty}
        firsts = self._generate(self.model.model, encoded, prompts, tokenizers[0], max(seconds), **search)
        for index, first in enumerate(firsts):
            # A piece that ran into its own budget inside a longer batch's: decoded alone, as a
            # batch of its own length would (a rare, looping piece).
            if seconds[index] < max(seconds) and len(first.tokens) >= token_budget(seconds[index], self.options) - 4:
                alone = _one_encoding(encoded, index) if self.device == "cpu" else self.model.encode(
                    np.ascontiguousarray(features[index : index + 1]))  # fmt: skip
                firsts[index] = self._generate(self.model.model, alone, [prompts[index]], tokenizers[index],
                                               seconds[index], **search)[0]  # fmt: skip
        part = _Part(pieces, features, encoded, firsts)
        chosen = [
            settle(first, _Resampler(self, part, index, first, prompts[index], tokenizers[index]), self.options)
            for index, first in enumerate(part.firsts)
        ]
        frames = [min(self.frames, len(piece) // self.hop) for piece in pieces]
        words = self._align(tokenizers, part, [decoded.tokens for decoded in chosen], frames)
        return [self._segments(d, w, len(p)) for d, w, p in zip(chosen, words, pieces, strict=True)]

    def _segments(self, decoded: Decoded, words: list[Word], samples: int) -> list[Segment]:
        if not decoded.text.strip():
            return []
        if decoded.looping:
            logger.info("cutting a repetition loop that the fallback did not end: %r", decoded.text[:200])
            words = loops.trim_repetition(words, key=lambda word: word.text)
            words = [replace(w, text=loops.trim_repeated_characters(w.text)) for w in words]
        if not words:  # no alignment (a model without alignment heads): the piece as one segment
            text = loops.trim_repeated_characters(decoded.text) if decoded.looping else decoded.text
            return [Segment(0.0, samples / self.sample_rate, text.strip())]
        return segments_from_words(tidy_words(words))

    def _make_tokenizer(self, language: str, task: str) -> Tokenizer:
        if not self.multilingual:  # tiny.en and the like: English, transcription only
            return Tokenizer(self.model.hf_tokenizer, False, task="transcribe", language="en")
        return Tokenizer(self.model.hf_tokenizer, True, task=task, language=language)

    def _features(self, pieces: Sequence[np.ndarray]) -> np.ndarray:
        """Log-mel features of each piece padded to the 30 s window, as faster-whisper's batched pipeline."""
        extract = self.model.feature_extractor
        return np.stack([pad_or_trim(extract(piece)[..., :-1], self.frames) for piece in pieces])

    def _generate(
        self, model: Any, encoded: Any, prompts: list[list[int]], tokenizer: Tokenizer, seconds: float, **search: Any
    ) -> list[Decoded]:
        """Decoded pieces of at most ``seconds``; the prompts' text (a prefix) counts as new tokens."""
        prompt = len([*tokenizer.sot_sequence, tokenizer.no_timestamps])
        max_length = min(self.model.max_length, prompt + token_budget(seconds, self.options))
        results = model.generate(
            encoded,
            prompts,
            max_length=max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1]) or []),
            **search,
        )
        decoded = []
        for result in results:
            length = len(result.sequences_ids[0])
            tokens = [token for token in result.sequences_ids[0] if token < tokenizer.eot]
            # The score is the summed log probability over the length (length_penalty 1); Whisper
            # averages over the tokens and the end of text.
            average = result.scores[0] * length / (length + 1)
            decoded.append(Decoded(tokens, tokenizer.decode(tokens), average, result.no_speech_prob))
        return decoded

    def _align(
        self, tokenizers: list[Tokenizer], part: _Part, tokens: list[list[int]], frames: list[int]
    ) -> list[list[Word]]:
        """Each piece's words with their times: one alignment per (language, task) of the batch on a
        GPU, of each piece on a CPU (measured with whisper-base int8 on one thread: a batch of four
        takes a quarter longer than its pieces one by one, each text padded to the longest)."""
        if not any(tokens):
            return [[] for _ in tokens]
        alignments: list[list[dict[str, Any]]] = [[] for _ in tokens]
        if self.device == "cpu":
            for index, text in enumerate(tokens):
                if text:
                    one = _one_encoding(part.encoded, index)
                    alignments[index] = self.model.find_alignment(tokenizers[index], [text], one, [frames[index]])[0]
        else:
            groups: dict[int, list[int]] = {}
            for index, tokenizer in enumerate(tokenizers):
                groups.setdefault(id(tokenizer), []).append(index)
            for rows in groups.values():
                # The batch's encoding when it is all one prompt (the common case), else this group's again.
                encoded = part.encoded if len(rows) == len(tokens) else self.model.encode(
                    np.ascontiguousarray(part.features[rows]))  # fmt: skip
                found = self.model.find_alignment(tokenizers[rows[0]], [tokens[i] for i in rows], encoded,
                                                  [frames[i] for i in rows])  # fmt: skip
                for index, alignment in zip(rows, found, strict=True):
                    alignments[index] = alignment
        words = []
        for alignment in alignments:
            merge_punctuations(alignment, PREPEND_PUNCTUATIONS, APPEND_PUNCTUATIONS)
            words.append([
                Word(float(w["start"]), float(w["end"]), w["word"], float(w["probability"]))
                for w in alignment
                if w["word"]
            ])
        return words


def _fetch(model: str) -> str:
    """A Hub model's local directory: downloaded on first use (said in the log, it can take minutes), then cached."""
    try:
        return str(download_model(model, local_files_only=True))
    except Exception:  # not cached yet (huggingface_hub's error types vary by version)
        logger.info("downloading ASR model %s from the Hugging Face Hub (first use; cached afterwards)", model)
    started = time.monotonic()
    path = str(download_model(model))
    logger.info("downloaded ASR model %s in %.0f s to %s", model, time.monotonic() - started, path)
    return path


def _one_encoding(encoded: Any, index: int) -> ctranslate2.StorageView:
    """One piece's encoder output out of a batch's, on a CPU (a StorageView there is a NumPy array)."""
    return ctranslate2.StorageView.from_array(np.ascontiguousarray(np.asarray(encoded)[index : index + 1]))


def _cores() -> int:
    """The cores this process may run on (a container's limit, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class _Part:
    """One part's pieces, kept for the fallback of its looping pieces."""

    pieces: list[np.ndarray]
    features: np.ndarray
    encoded: Any  # ctranslate2.StorageView on the model's device
    firsts: list[Decoded]


class _Resampler:
    """Decodes one looping piece again by sampling, at each temperature ``settle`` asks for.

    The beam search's text up to where the loop starts is kept as a prefix, and only the rest
    is sampled: the text before the loop is the likeliest reading, and the samples are shorter.

    CTranslate2 seeds a worker thread's random generator once, from the seed set before the
    thread first samples; the shared model's workers may have sampled before, so a piece is
    sampled by a model instance of its own, made after ``set_random_seed``: the same piece then
    gives the same samples on every run, and the cached transcript does not depend on what ran
    before. Loading costs less than one sampling pass, and only looping pieces pay it.
    """

    def __init__(
        self,
        owner: FasterWhisperRecogniser,
        part: _Part,
        index: int,
        first: Decoded,
        prompt: list[int],
        tokenizer: Tokenizer,
    ) -> None:
        self.owner = owner
        self.part = part
        self.index = index
        self.first = first
        self.seconds = len(part.pieces[index]) / owner.sample_rate
        self.prompt = prompt
        self.tokenizer = tokenizer
        self.sampler: Any = None

    def __call__(self, temperature: float) -> Decoded:
        owner = self.owner
        if self.sampler is None:  # the first call: most pieces never get here
            loop = loops.find_repetition(self.first.tokens)
            self.prompt = self.prompt + (self.first.tokens[: loop[0]] if loop else [])
            ctranslate2.set_random_seed(owner.options.seed)
            self.sampler = ctranslate2.models.Whisper(
                owner.path, device=owner.device, compute_type=owner.compute_type,
                intra_threads=owner.threads * owner.workers,
            )  # fmt: skip
            self.piece = self._piece_encoding()
        logger.info("decoding a looping piece again at temperature %.1f", temperature)
        return owner._generate(
            self.sampler,
            self.piece,
            [self.prompt],
            self.tokenizer,
            self.seconds,
            beam_size=1,
            num_hypotheses=owner.options.best_of,
            sampling_topk=0,
            sampling_temperature=temperature,
        )[0]

    def _piece_encoding(self) -> Any:
        """This piece's encoder output: a slice of the batch's on a CPU; on a GPU, encoded again."""
        if self.owner.device == "cpu":
            return _one_encoding(self.part.encoded, self.index)
        features = np.ascontiguousarray(self.part.features[self.index : self.index + 1])
        return self.sampler.encode(ctranslate2.StorageView.from_array(features))
