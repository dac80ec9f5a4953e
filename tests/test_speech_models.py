"""The recognition side: the transformers backend, Marian translation, the registry contract, the
real processes, and one honest recognition check with a real model."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading

import jiwer
import pytest

from common.registry import LocalModelRegistry
from tests.conftest import REPO
from tests.test_speech import assert_valid_srt, console_session, documents, install_runtime
from workers.speech import audio, cache
from workers.speech.backends.ct2 import FasterWhisperRecogniser
from workers.speech.backends.hf import split_by_timestamps
from workers.speech.chunks import speech_chunks
from workers.speech.models import AsrModels
from workers.speech.recognise import recognise_chunks

# The media, HTTP server and tiny models: built once per session for every speech test module.
pytest_plugins = ["tests.speech_fixtures"]


@pytest.mark.slow
def test_transformers_backend_translates_through_whisper_task(connection, media_server, tiny_models, tmp_path):
    """ASR_BACKEND=transformers: the whole job works and gives a valid .srt within the audio's length."""
    install_runtime(tiny_models["transformers"], "transformers", tmp_path / "models", max_chunk_s=10)
    out = console_session(connection, f"/translate {media_server}/swedish.mp4 lang=sv\n", tmp_path)
    assert "Translation (" in out and "(transformers)" in out
    cues = assert_valid_srt(documents(connection)["srt"].decode())
    assert cues[-1][2] <= 18.5


@pytest.mark.slow
def test_marian_translates_each_segment_and_keeps_the_times(connection, media_server, tiny_models, tmp_path):
    """With MT_MODEL set, /translate transcribes, then translates segment by segment: segment times are the ASR's.

    The translated segments carry no words (their times belong to the Swedish words), so their cues
    are whole segments while the transcript's are cut from words; the segments themselves line up.
    """
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models", max_chunk_s=8)
    console_session(connection, f"/transcribe {media_server}/swedish.mp4\n", tmp_path)
    connection.delete(*connection.keys("artifact:*"))
    install_runtime(
        tiny_models["ctranslate2"],
        "ctranslate2",
        tmp_path / "models",
        max_chunk_s=8,
        mt_model=str(tiny_models["marian"]),
    )
    out = console_session(connection, f"/translate {media_server}/swedish.mp4\n", tmp_path)
    assert f"+ {tiny_models['marian']}" in out, "the cache key and the note name the MT model"
    assert_valid_srt(documents(connection)["srt"].decode())
    (transcribed,) = connection.keys("speech:result:*:transcribe:*")
    (translated,) = connection.keys("speech:result:*:translate:*")
    transcribed_entry = cache.load(connection, transcribed.decode())
    translated_entry = cache.load(connection, translated.decode())
    assert transcribed_entry and translated_entry
    transcript, translation = transcribed_entry.segments, translated_entry.segments
    assert [(s.start, s.end) for s in translation] == [(s.start, s.end) for s in transcript]
    assert all(s.words for s in transcript) and not any(s.words for s in translation)
    assert [s.text for s in translation] != [s.text for s in transcript], "Marian wrote new text"


def test_job_slots_translating_at_once_share_one_marian_and_get_their_own_text(tiny_models, tmp_path):
    """A worker's job slots are threads of one process: the first use loads Marian once for all of
    them, and translations running side by side give each thread the text it gets alone."""
    speech = install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models",
                             mt_model=str(tiny_models["marian"]))  # fmt: skip
    batches = [[f"Hej och välkommen {n}.", "Vi ska prata om tal."][: 1 + n % 2] for n in range(6)]
    start = threading.Barrier(len(batches))
    translators: list[object] = [None] * len(batches)
    together: list[list[str]] = [[] for _ in batches]

    def translate(index: int) -> None:
        start.wait()
        translators[index] = translator = speech.translator()
        for _ in range(3):
            together[index] = translator.translate(batches[index])

    threads = [threading.Thread(target=translate, args=(index,)) for index in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(translator is translators[0] for translator in translators), "one Marian, loaded once"
    alone = [speech.translator().translate(texts) for texts in batches]
    assert together == alone and all(alone)


@pytest.mark.slow
def test_a_newly_registered_version_is_used_without_restart(connection, media_server, tiny_models, tmp_path):
    """The registry's new 'asr' version (transformers files, extra.backend) replaces the setting's model."""
    speech = install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models", max_chunk_s=10)
    first, recogniser = speech.models.current()
    assert first.backend == "ctranslate2" and speech.models.current()[1] is recogniser, "loaded once"
    registry = LocalModelRegistry(tmp_path / "models")
    registry.register(
        "asr",
        lambda d: [shutil.copy(f, d / f.name) for f in tiny_models["transformers"].iterdir()],
        metrics={"wer": 1.0},
        feature_schema=[],
        extra={"backend": "transformers"},
    )
    out = console_session(connection, f"/transcribe {media_server}/swedish.mp4\n", tmp_path)
    assert "Transcript (asr v1)" in out
    source, _ = speech.models.current()
    assert source.tag == "asr v1" and source.backend == "transformers"


@pytest.mark.slow
def test_a_new_model_version_misses_the_transcripts_cached_for_the_old_one(
    connection, media_server, tiny_models, tmp_path
):
    """The cache key names the model: after a new 'asr' version, the same link is recognised again, then cached."""
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models", max_chunk_s=10)
    link = f"/transcribe {media_server}/swedish.mp4\n"
    assert "from cache" not in console_session(connection, link, tmp_path)
    assert "from cache" in console_session(connection, link, tmp_path), "the same model answers from its cache"
    LocalModelRegistry(tmp_path / "models").register(
        "asr",
        lambda d: [shutil.copy(f, d / f.name) for f in tiny_models["ctranslate2"].iterdir()],
        metrics={"wer": 1.0},
        feature_schema=[],
        extra={"backend": "ctranslate2"},
    )
    renewed = console_session(connection, link, tmp_path)
    assert "Transcript (asr v1)" in renewed and "from cache" not in renewed, "the old model's transcript is not served"
    assert "Transcript (asr v1, from cache)" in console_session(connection, link, tmp_path)
    assert len(connection.keys("speech:result:*")) == 2, "one cached transcript per model"


def test_cache_keys_differ_by_source_task_language_and_model():
    """Each part of a request that changes the transcript makes another cache key."""
    base = ("youtube:abc", "transcribe", "sv", "asr v1")
    keys = {cache.cache_key(*base)}
    for position, other in enumerate(("youtube:abd", "translate", "fi", "asr v2")):
        changed = list(base)
        changed[position] = other
        keys.add(cache.cache_key(*changed))
    assert len(keys) == 5
    assert cache.language_key("youtube:abc", "asr v1") != cache.language_key("youtube:abc", "asr v2")


def test_timestamp_tokens_become_segments():
    begin, eot = 50364, 50257
    tokens = [50258, 50288, 50360, begin, 10, 11, begin + 100, begin + 100, 12, begin + 250, eot]
    segments = split_by_timestamps(tokens, begin, eot, lambda ids: " ".join(map(str, ids)), 6.0)
    assert [(s.start, s.end, s.text) for s in segments] == [(0.0, 2.0, "10 11"), (2.0, 5.0, "12")]
    tail = split_by_timestamps([begin + 50, 13, eot], begin, eot, str, 4.0)
    assert [(s.start, s.end) for s in tail] == [(1.0, 4.0)]


@pytest.mark.slow
def test_real_tiny_english_whisper_recognises_espeak_speech(english_speech, english_model):
    """The one honest check: real weights (tiny.en, CTranslate2 int8) through our chunking and backend."""
    wav, said = english_speech
    samples = audio.decode(wav, max_seconds=60)
    recogniser = FasterWhisperRecogniser(str(english_model), device="cpu", cpu_threads=2)
    segments = recognise_chunks(recogniser, samples, speech_chunks(samples), language="en", task="transcribe")
    heard = " ".join(segment.text for segment in segments)

    def normal(text: str) -> str:
        return re.sub(r"[^a-z' ]+", " ", text.lower()).strip()

    error = jiwer.wer(normal(said), normal(heard))
    assert error < 0.35, f"WER {error:.3f} on espeak-ng English; heard: {heard!r}"
    print(f"tiny.en WER on espeak-ng English: {error:.3f}")


@pytest.mark.slow
def test_real_processes_console_and_worker(process_env, media_server, tiny_models, tmp_path):
    """`python -m workers --queues transcribe` (model loaded at start) and `python -m bot console` with settings."""
    env = {
        **process_env,
        "ASR_MODEL": str(tiny_models["ctranslate2"]),
        "ASR_BACKEND": "ctranslate2",
        "ASR_DEVICE": "cpu",
        "ASR_BEAM_SIZE": "3",
        "ASR_BATCH_SIZE": "4",
        "ASR_REPETITION_PENALTY": "1.1",
        "ALLOWED_VIDEO_HOSTS": "youtube.com",
        "PRIVATE_VIDEO_HOSTS": "127.0.0.1",
        "MODEL_DIR": str(tmp_path / "models"),
    }
    log = tmp_path / "worker.log"
    with log.open("w") as stderr:
        worker = subprocess.Popen(
            [sys.executable, "-m", "workers", "--queues", "transcribe"], env=env, cwd=REPO, stderr=stderr
        )
        try:
            done = subprocess.run(
                [sys.executable, "-m", "bot", "console"],
                input=f"/transcribe {media_server}/swedish.mp4\n",
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert done.returncode == 0, done.stderr + log.read_text()
    assert "Transcript (" in done.stdout and "Subtitles (.srt)" in done.stdout
    ready = "ready (ctranslate2 on cpu, beam 3, batch 4, repetition penalty 1.1)"
    assert "ASR model" in log.read_text() and ready in log.read_text(), (
        "loaded at start, with ASR_BEAM_SIZE, ASR_BATCH_SIZE and ASR_REPETITION_PENALTY"
    )


def test_unknown_backend_is_refused(tmp_path):
    with pytest.raises(Exception, match="unknown ASR backend"):
        AsrModels(LocalModelRegistry(tmp_path), "x", "onnx", "cpu")


def test_a_hub_model_that_is_not_cached_says_it_is_being_downloaded(tmp_path):
    """A first load from the Hub can take minutes: the log says so before it starts (offline here, so it fails)."""
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    script = (
        "import logging; logging.basicConfig(level=logging.INFO)\n"
        "from workers.speech.backends.ct2 import FasterWhisperRecogniser\n"
        "FasterWhisperRecogniser('mlchat-tests/no-such-model', device='cpu')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    said = "downloading ASR model mlchat-tests/no-such-model from the Hugging Face Hub (first use; cached afterwards)"
    assert said in done.stderr
