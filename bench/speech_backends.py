"""The two recognition backends on the same audio with the same network, random weights.

No Whisper-small weights can be downloaded here, so the network is Whisper-small-shaped (12+12
layers, width 768, 244 M parameters) with random weights, built once and converted to CTranslate2.
Its end-of-text embedding is zeroed so that neither backend stops early: both decode exactly
``tokens`` tokens per chunk, greedily, so the comparison is one of equal work.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tests.speech_fixtures import convert_to_ctranslate2, multilingual_tokenizer
from workers.speech.backends import Recogniser
from workers.speech.backends.decoding import DecodeOptions
from workers.speech.recognise import recognise_chunks


def make_model(directory: Path, layers: int, width: int) -> tuple[Path, Path]:
    import torch
    from transformers import GenerationConfig, WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    hf = directory / "transformers"
    ids = multilingual_tokenizer(hf)
    torch.manual_seed(0)
    config = WhisperConfig(
        vocab_size=51865,
        num_mel_bins=80,
        d_model=width,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=width // 64,
        decoder_attention_heads=width // 64,
        encoder_ffn_dim=4 * width,
        decoder_ffn_dim=4 * width,
        pad_token_id=50257,
        bos_token_id=50257,
        eos_token_id=50257,
        decoder_start_token_id=50258,
    )
    model = WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():
        model.model.decoder.embed_tokens.weight[50257] = 0.0  # never the best token: no early stop
    model.generation_config = GenerationConfig(
        decoder_start_token_id=50258,
        eos_token_id=50257,
        pad_token_id=50257,
        max_length=448,
        is_multilingual=True,
        lang_to_id={token: ids[token] for token in list(ids)[2:-6]},
        task_to_id={"translate": ids["<|translate|>"], "transcribe": ids["<|transcribe|>"]},
        no_timestamps_token_id=ids["<|notimestamps|>"],
        begin_suppress_tokens=[220, 50257],
        suppress_tokens=[],
    )
    model.save_pretrained(hf)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(hf)
    ct2 = directory / "ctranslate2"
    convert_to_ctranslate2(hf, ct2)
    return hf, ct2


def time_backend(recogniser: Recogniser, samples: np.ndarray, chunks: list[tuple[float, float]]) -> float:
    recognise_chunks(recogniser, samples[: 16000 * 5], [(0.0, 5.0)], language="sv", task="transcribe")  # warm-up
    started = time.perf_counter()
    recognise_chunks(recogniser, samples, chunks, language="sv", task="transcribe")
    return time.perf_counter() - started


def compare_backends(
    samples: np.ndarray, chunks: list[tuple[float, float]], directory: Path, *, layers: int, width: int,
    tokens: int, threads: int,
) -> tuple[float, float]:
    """(transformers seconds, ctranslate2 seconds) on ``samples`` cut into ``chunks``."""
    from workers.speech.backends.ct2 import FasterWhisperRecogniser
    from workers.speech.backends.hf import TransformersRecogniser

    hf, ct2 = make_model(directory, layers, width)
    # Greedy, no fallback (random text "loops"), fixed length: the same work for both backends.
    options = DecodeOptions(beam_size=1, fallback_temperatures=(), trim_loops=False, max_new_tokens=tokens)
    transformers_s = time_backend(
        TransformersRecogniser(str(hf), device="cpu", cpu_threads=threads, options=options), samples, chunks
    )
    ct2_s = time_backend(
        FasterWhisperRecogniser(str(ct2), device="cpu", cpu_threads=threads, options=options), samples, chunks
    )
    return transformers_s, ct2_s
