"""Recognition with models: batches with word times, loops on a real Whisper, lang=auto, the default
install without torch, and bad input, through the real worker where it matters.

Tiny random-weight models check the paths (their words and languages are noise); the real
multilingual whisper-base (``real_whisper``) checks what only real weights can show.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

from bot.commands import Commands
from bot.replies import help_text
from bot.telegram_uploads import caption_request
from common import artifacts
from common.errors import VideoRejected
from common.jobs import ReplyTo, TranscriptionRequest
from common.outbox import OutboxReader
from common.queues import TRANSCRIBE, JobQueue
from common.video_links import LinkPolicy
from tests.conftest import REPO
from tests.import_blocker import hiding
from tests.test_speech import console_session, install_runtime
from workers.speech import audio, language, loops
from workers.speech import chunks as chunks_module
from workers.speech.backends import Segment
from workers.speech.backends.ct2 import FasterWhisperRecogniser
from workers.speech.backends.decoding import DecodeOptions
from workers.speech.chunks import Chunk, speech_chunks
from workers.speech.recognise import recognise_chunks

# The media, HTTP server and models (tiny ones and real_whisper): built once per session.
pytest_plugins = ["tests.speech_fixtures"]

FIRST_SENTENCES = [
    "Stockholm är Sveriges huvudstad och ligger där Mälaren möter Östersjön.",
    "Staden är byggd på fjorton öar som förbinds av ett femtiotal broar.",
    "Varje sommar kommer många turister för att se den gamla stan.",
    "Gamla stan har smala gränder och hus som byggdes för flera hundra år sedan.",
    "Kungliga slottet ligger mitt i staden och har över sexhundra rum.",
    "På vintern blir det mörkt redan vid tre på eftermiddagen.",
]


def speak(text: str, path: Path, voice: str = "sv") -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text], check=True, capture_output=True)
    return path


def loop_in(segments: list[Segment]) -> tuple[int, int, int] | None:
    """The first run of words said three times in a row over 15+ words (the same 5 words thrice, or more)."""
    return loops.find_repetition([loops.normal_word(word) for s in segments for word in s.text.split()])


def five_words_thrice(segments: list[Segment]) -> bool:
    words = [loops.normal_word(word) for s in segments for word in s.text.split()]
    return any(words[i : i + 5] == words[i + 5 : i + 10] == words[i + 10 : i + 15] for i in range(len(words) - 14))


def samples_of(path: Path) -> np.ndarray:
    return audio.decode(path, max_seconds=600)


def assert_words_on_the_audio_clock(segments: list[Segment], chunks: list[Chunk]) -> None:
    regions = [region for chunk in chunks for region in chunk.regions]
    for segment in segments:
        assert segment.words, segment
        assert segment.start == segment.words[0].start and segment.end == segment.words[-1].end
        for word in segment.words:
            assert segment.start <= word.start <= word.end <= segment.end
            assert any(start <= word.start and word.end <= end for start, end in regions), (word, regions)


# --- batches ---------------------------------------------------------------------------------------------------


def test_batches_give_the_same_words_as_one_piece_at_a_time_on_the_audio_clock(tiny_models, media_dir):
    """Batch size and CPU workers change how pieces are decoded together, not what comes out (at one token limit)."""
    samples = samples_of(media_dir / "long.wav")
    chunks = speech_chunks(samples, max_chunk_s=8)
    assert len(chunks) >= 5
    model = str(tiny_models["ctranslate2"])
    # The random model never ends a text: one token limit for all, and no fallback for its loops.
    options = DecodeOptions(fallback_temperatures=(), max_new_tokens=40)
    single = FasterWhisperRecogniser(model, device="cpu", cpu_threads=1, options=options)
    shared = FasterWhisperRecogniser(model, device="cpu", cpu_threads=2, options=options)
    assert (single.workers, shared.workers) == (1, 2)
    one = recognise_chunks(single, samples, chunks, language="sv", task="transcribe", batch_size=1)
    fractions: list[float] = []

    def after_batch(fraction: float, found: list[Segment]) -> list[Segment]:
        fractions.append(fraction)
        return found

    batched = recognise_chunks(
        shared, samples, chunks, language="sv", task="transcribe", batch_size=3, after_batch=after_batch
    )
    assert [(s.start, s.end, s.text) for s in batched] == [(s.start, s.end, s.text) for s in one]
    # Two workers share a batch of 3: parts of 2 pieces, each reported as it is done.
    assert len(fractions) == -(-len(chunks) // 2) and fractions == sorted(fractions)
    assert fractions[-1] == pytest.approx(1.0)
    assert_words_on_the_audio_clock(batched, chunks)
    assert batched[-1].end <= len(samples) / audio.SAMPLE_RATE


def test_chunks_pack_speech_and_leave_out_a_long_pause(tmp_path):
    """Two sentences 12 s apart are one chunk of about their speech: the pause is not decoded."""
    first, second = (samples_of(speak(text, tmp_path / f"{i}.wav")) for i, text in enumerate(FIRST_SENTENCES[:2]))
    samples = np.concatenate([first, np.zeros(12 * audio.SAMPLE_RATE, np.float32), second])
    (chunk,) = speech_chunks(samples)
    assert len(chunk.regions) >= 2
    assert chunk.end - chunk.start > 12 + chunk.length - 2, "the chunk spans the pause ..."
    assert chunk.length < (len(first) + len(second)) / audio.SAMPLE_RATE + 2, "... but holds only the speech"
    assert len(chunk.samples(samples)) == round(chunk.length * audio.SAMPLE_RATE)


def test_long_audio_is_searched_for_speech_in_two_halves_with_the_same_result(media_dir, monkeypatch):
    """Above two minutes the detector runs on two threads; the chunks are those of one pass."""
    samples = np.tile(samples_of(media_dir / "long.wav"), 3)  # 3.5 minutes
    assert len(samples) > chunks_module.SPLIT_ABOVE_S * audio.SAMPLE_RATE
    halves = speech_chunks(samples)
    monkeypatch.setattr(chunks_module, "SPLIT_ABOVE_S", 10**9)
    assert speech_chunks(samples) == halves


def test_the_halves_are_cut_in_the_silence_nearest_the_middle_of_the_work():
    """Three seconds of digital silence in noise: the cut is in the one where both parts take equally long."""
    rate = audio.SAMPLE_RATE
    samples = np.random.default_rng(0).normal(0, 0.1, 300 * rate).astype(np.float32)
    for second in (110, 160, 200):
        samples[second * rate : (second + 2) * rate] = 0
    warm = 30 * rate
    cut = chunks_module.quiet_cut(samples, warm)
    assert 160 * rate < cut < 162 * rate  # the middle of the work is (300 + 30) / 2 = 165 s
    assert cut % chunks_module.VAD_WINDOW == 0


# --- lang=auto ---------------------------------------------------------------------------------------------------


def test_both_backends_give_each_window_a_probability_per_language(tiny_models, media_dir):
    from workers.speech.backends.hf import TransformersRecogniser

    samples = samples_of(media_dir / "swedish.wav")
    windows = [chunk.samples(samples) for chunk in speech_chunks(samples, max_chunk_s=8)]
    for recogniser in (
        FasterWhisperRecogniser(str(tiny_models["ctranslate2"]), device="cpu", cpu_threads=1),
        TransformersRecogniser(str(tiny_models["transformers"]), device="cpu", cpu_threads=1),
    ):
        found = recogniser.detect_language(windows)
        assert len(found) == len(windows)
        for probabilities in found:
            assert "sv" in probabilities and "en" in probabilities
            assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-3)


def test_the_bots_take_lang_auto(connection):
    commands = Commands(JobQueue(connection), LinkPolicy(frozenset(), frozenset({"127.0.0.1"})))
    answer = commands.handle("/translate http://127.0.0.1:9/a.mp4 lang=AUTO", ReplyTo(outbox="console-a", chat="c"))
    job = JobQueue(connection).fetch(answer.job_id or "")
    assert job is not None and job.args[0]["language"] == "auto"
    assert caption_request("/translate lang=auto") == ("translate", "auto")
    assert "lang=auto" in help_text()
    assert "or auto" in commands.handle("/transcribe http://127.0.0.1:9/a.mp4 lang=automatic", ReplyTo("c", "c")).text


def test_lang_auto_on_noise_is_refused_politely_and_nothing_is_cached(connection, media_server, tiny_models, tmp_path):
    """A random model hears every language at about 1%: the user is asked to say which."""
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models", max_chunk_s=8)
    out = console_session(connection, f"/transcribe {media_server}/swedish.mp4 lang=auto\n", tmp_path)
    assert "I could not tell which language that is (maybe " in out and "send it again with lang=xx." in out
    assert not connection.keys("speech:*")


@pytest.mark.slow
def test_lang_auto_names_the_language_heard_and_caches_by_it(connection, media_server, english_model, tmp_path):
    """An English-only Whisper hears English: the answer says so, files and cache use "en", and the
    same request again comes from the cache without a download."""
    install_runtime(english_model, "ctranslate2", tmp_path / "models")
    out = console_session(connection, f"/transcribe {media_server}/english.wav lang=auto\n", tmp_path)
    assert "; heard: English (en), 100%):" in out
    assert "-transcribe-en.txt" in out and "-transcribe-auto" not in out
    (key,) = connection.keys("speech:result:*")
    assert b":transcribe:en:" in key
    job_id = out.split("Queued as job ")[1].split(":")[0]
    job = JobQueue(connection).fetch(job_id)
    assert job is not None
    assert job.return_value()["language"] == "en" and job.return_value()["language_probability"] == 1.0
    again = console_session(connection, f"/transcribe {media_server}/english.wav lang=auto\n", tmp_path)
    assert "from cache; heard: English (en), 100%" in again and "Downloading" not in again


# --- the default install: ctranslate2 without torch ---------------------------------------------------------------

@pytest.fixture
def without_torch(tmp_path: Path) -> Path:
    """A directory for PYTHONPATH whose sitecustomize makes torch and transformers unimportable."""
    return hiding(tmp_path / "no-torch", "torch", "transformers")


def test_the_ctranslate2_path_loads_neither_torch_nor_transformers(tiny_models, media_dir):
    """The job, the worker entry point, recognition and language detection, with both installed: neither loads."""
    script = f"""
        import sys
        from pathlib import Path
        import workers.__main__
        from workers.speech import audio, job, language
        from workers.speech.backends import resolve_device
        from workers.speech.chunks import speech_chunks
        from workers.speech.models import ModelSource, load_recogniser
        from workers.speech.recognise import recognise_chunks

        recogniser = load_recogniser(ModelSource("t", {str(tiny_models["ctranslate2"])!r}, "ctranslate2"), "cpu", 1)
        samples = audio.decode(Path({str(media_dir / "swedish.wav")!r}), max_seconds=60)
        chunks = speech_chunks(samples, max_chunk_s=8)
        print(len(recognise_chunks(recogniser, samples, chunks, language="sv", task="transcribe")) > 0)
        print(len(recogniser.detect_language([chunk.samples(samples) for chunk in chunks])))
        print(resolve_device("auto"))
        print(sorted(name for name in ("torch", "transformers") if name in sys.modules))
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:4] == ["True", "3", "cpu", "[]"], done.stdout


@pytest.mark.slow
def test_a_worker_without_torch_serves_transcribe(connection, process_env, media_dir, tiny_models, without_torch):
    """`python -m workers --queues transcribe` where torch cannot be imported: the job is answered."""
    env = {
        **process_env,
        "PYTHONPATH": str(without_torch),
        "ASR_MODEL": str(tiny_models["ctranslate2"]),
        "ASR_DEVICE": "auto",
        "PRIVATE_VIDEO_HOSTS": "127.0.0.1",
    }
    reply = ReplyTo(outbox="console-no-torch", chat="me")
    request = TranscriptionRequest(
        task="transcribe", reply=reply, source_id="upload:no-torch",
        artifact=artifacts.store(connection, (media_dir / "swedish.wav").read_bytes(), ttl_s=600),
    )
    JobQueue(connection).enqueue(TRANSCRIBE, "workers.speech.job.run", request.to_dict(), retries=0)
    done = subprocess.run(
        [sys.executable, "-m", "workers", "--queues", "transcribe", "--burst"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ready (ctranslate2 on cpu" in done.stderr
    messages = [m for _, m in OutboxReader(connection, "console-no-torch").read(block_ms=10, count=100)]
    assert any(m.kind == "text" and m.text.startswith("Transcript (") for m in messages), messages
    assert messages[-1].final and messages[-1].kind == "document"


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ({"ASR_BACKEND": "transformers"}, "ASR_BACKEND=transformers needs the speech extra: pip install '.[speech]'"),
        ({"MT_MODEL": "Helsinki-NLP/opus-mt-sv-en"}, "MT_MODEL (Marian translation) needs the speech extra"),
    ],
)
def test_what_needs_torch_stops_a_worker_without_it_at_start(process_env, without_torch, tmp_path, setting, said):
    env = {**process_env, "PYTHONPATH": str(without_torch), "ASR_MODEL": str(tmp_path), **setting}
    done = subprocess.run(
        [sys.executable, "-m", "workers", "--queues", "transcribe"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert said in done.stderr
    assert "Traceback" not in done.stderr


# --- bad input ----------------------------------------------------------------------------------------------------


def _write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(audio.SAMPLE_RATE)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def _tune(seconds: float) -> np.ndarray:
    """Music-like: notes of a scale with overtones, a quarter second each."""
    rng = np.random.default_rng(0)
    note = np.arange(int(0.25 * audio.SAMPLE_RATE)) / audio.SAMPLE_RATE
    envelope = np.minimum(1, np.minimum(note, note[-1] - note) * 40)
    notes = []
    for _ in range(int(seconds * 4)):
        pitch = 220 * 2 ** (rng.integers(0, 13) / 12)
        notes.append(0.3 * envelope * sum(np.sin(2 * np.pi * pitch * k * note) / k for k in (1, 2, 3)))
    return np.concatenate(notes).astype(np.float32)


@pytest.mark.slow
def test_bad_input_gets_a_sentence_each_and_the_worker_goes_on(
    connection, media_dir, media_server, tiny_models, tmp_path
):
    """Music, a corrupt file, two hours of audio, an unknown language, then a good video: five answers."""
    _write_wav(media_dir / "tune.wav", _tune(12))
    (media_dir / "corrupt.mp4").write_bytes(np.random.default_rng(1).bytes(50_000))
    hours = media_dir / "two-hours.flac"
    if not hours.exists():  # digital silence compresses to almost nothing in FLAC, and encodes fast
        subprocess.run(
            ["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "7200",
             "-c:a", "flac", str(hours)],
            check=True,
        )  # fmt: skip
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models", max_chunk_s=8)
    lines = [
        f"/transcribe {media_server}/tune.wav",
        f"/transcribe {media_server}/corrupt.mp4",
        f"/transcribe {media_server}/two-hours.flac",
        f"/transcribe {media_server}/swedish.mp4 lang=qq",
        f"/transcribe {media_server}/swedish.mp4",
    ]
    out = console_session(connection, "".join(line + "\n" for line in lines), tmp_path)
    tune_transcribed = "I heard no speech in that video." not in out  # music may pass the detector; never a crash
    assert out.count("Transcript (") == 1 + tune_transcribed, out
    assert "That file is not audio or video I can read." in out
    assert re.search(r"That video is (2 h|120 min)[^.]* long; I take videos up to 2 min", out), out
    assert "Whisper does not know the language code 'qq'" in out
    assert "Traceback" not in out


# --- the real whisper-base -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(real_whisper: Path) -> FasterWhisperRecogniser:
    return FasterWhisperRecogniser(str(real_whisper), device="cpu", cpu_threads=2)


def reversed_speech(folder: Path) -> np.ndarray:
    """29 s of espeak-ng Swedish played backwards: like speech to the detector, words to nobody."""
    gap = np.zeros(int(0.7 * audio.SAMPLE_RATE), np.float32)
    parts = [samples_of(speak(text, folder / f"sv-{i}.wav")) for i, text in enumerate(FIRST_SENTENCES)]
    forwards = np.concatenate([piece for part in parts for piece in (part, gap)])
    return forwards[: 29 * audio.SAMPLE_RATE][::-1].copy()


@pytest.mark.slow
def test_real_whisper_loops_on_reversed_speech_without_the_fallback_and_not_with_it(real_whisper, real, tmp_path):
    """The plain beam search writes one sentence over and over; the penalty, the fallback and the trim leave no loop."""
    samples = reversed_speech(tmp_path)
    chunks = speech_chunks(samples)
    no_fallback = DecodeOptions(repetition_penalty=1.0, fallback_temperatures=(), trim_loops=False)
    plain = FasterWhisperRecogniser(str(real_whisper), device="cpu", cpu_threads=2, options=no_fallback)
    looping = recognise_chunks(plain, samples, chunks, language="sv", task="transcribe")
    assert loop_in(looping) is not None, f"expected whisper-base to loop here: {' '.join(s.text for s in looping)}"
    ours = recognise_chunks(real, samples, chunks, language="sv", task="transcribe")
    text = " ".join(s.text for s in ours)
    assert loop_in(ours) is None and not five_words_thrice(ours), text
    assert len(text.split()) >= 20, "the fallback kept text, not nothing"
    assert_words_on_the_audio_clock(ours, chunks)


@pytest.mark.slow
def test_real_whisper_hears_english_and_finnish_but_not_espeak_swedish(real, media_dir, tmp_path):
    """Spread windows, averaged: English and Finnish clearly; espeak-ng's Swedish sounds like Latin to
    whisper-base (measured: la 40%, fi 18%), so lang=auto asks, and sv stays the default."""
    said = "Nopea ruskea kettu hyppää laiskan koiran yli. Testaamme järjestelmää joka päivä."
    finnish = speak(said, tmp_path / "fi.wav", voice="fi")
    for path, code in ((media_dir / "english.wav", "en"), (finnish, "fi")):
        samples = samples_of(path)
        heard = language.detect(real, samples, speech_chunks(samples))
        assert heard.language == code and heard.probability > 0.8, heard
    swedish = samples_of(media_dir / "swedish.wav")
    with pytest.raises(VideoRejected, match=r"I could not tell which language that is \(maybe Latin or "):
        language.detect(real, swedish, speech_chunks(swedish))


@pytest.mark.slow
def test_real_whisper_transcribes_swedish_with_word_times_in_order(real, media_dir):
    samples = samples_of(media_dir / "long.wav")  # the three sentences four times: several chunks, one batch
    chunks = speech_chunks(samples)
    segments = recognise_chunks(real, samples, chunks, language="sv", task="transcribe")
    assert_words_on_the_audio_clock(segments, chunks)
    words = [word for segment in segments for word in segment.words]
    assert all(a.start <= b.start for a, b in itertools.pairwise(words)), "words in the order said"
    heard = " ".join(s.text for s in segments).lower()
    assert heard.count("välkommen") + heard.count("mälkommen") >= 3, heard
    assert loop_in(segments) is None
