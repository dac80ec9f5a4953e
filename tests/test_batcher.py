"""Windows of several speech jobs decoded in one batch (workers/speech/batcher.py), on real models.

The identity check runs OpenAI's whisper-base (CTranslate2 int8, from PyPI) on espeak-ng Swedish:
each job's segments, decoded beside other jobs' windows in one batch, are the segments it gets
alone. The scheduling checks (round-robin, /cancel, a failing window) run the real tiny.en.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from faster_whisper import decode_audio

from common.settings import SpeechSettings
from workers.speech.backends import Segment
from workers.speech.backends.ct2 import FasterWhisperRecogniser
from workers.speech.backends.decoding import DecodeOptions
from workers.speech.batcher import Batcher, windows_at_once

pytest_plugins = ["tests.speech_fixtures"]

SENTENCES = {
    "a": "Hej och välkommen till dagens föreläsning om maskininlärning.",
    "b": "Vi ska prata om hur datorer kan förstå tal och översätta det till text.",
    "c": "Modellen lyssnar på ljudet och skriver ner vad som sägs.",
}
ENGLISH = "The weather today is sunny and warm, and the children are playing in the park."


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    root = tmp_path_factory.mktemp("batcher-clips")
    clips = {}
    for name, text in SENTENCES.items():
        subprocess.run(["espeak-ng", "-v", "sv", "-s", "150", "-w", str(root / f"{name}.wav"), text], check=True)
        clips[name] = decode_audio(str(root / f"{name}.wav"))
    subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "-w", str(root / "english.wav"), ENGLISH], check=True)
    clips["english"] = decode_audio(str(root / "english.wav"))
    return clips


Job = tuple[list[np.ndarray], str, str]  # windows, language, task


def run_job(batcher: Batcher, recogniser: FasterWhisperRecogniser, job: Job) -> list[list[Segment]]:
    windows, language, task = job
    found: dict[int, list[Segment]] = {}
    parts = batcher.recognise_parts(
        recogniser, [len(w) for w in windows], windows.__getitem__, language=language, task=task
    )
    for part, segments in parts:
        found.update(zip(part, segments, strict=True))
    return [found[index] for index in range(len(windows))]


def run_together(
    batcher: Batcher, recogniser: FasterWhisperRecogniser, jobs: list[Job], *, errors: bool = False
) -> list[Any]:
    """Each job in its own thread, as a worker's job slots run them; all of them announced before any
    hands in. ``errors``: a job's exception in its place, not raised."""
    results: list[list[list[Segment]] | BaseException] = [[] for _ in jobs]
    announced = threading.Barrier(len(jobs))

    def one(index: int) -> None:
        try:
            with batcher.expecting():
                announced.wait()
                results[index] = run_job(batcher, recogniser, jobs[index])
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=one, args=(index,)) for index in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    for result in results:
        if isinstance(result, BaseException) and not errors:
            raise result
    return results


@pytest.fixture(scope="module")
def whisper_base(real_whisper: Path) -> FasterWhisperRecogniser:
    # One CPU lane of two windows: with two lanes, fewer windows than fill both go one to a lane.
    return FasterWhisperRecogniser(str(real_whisper), device="cpu", cpu_threads=1, options=DecodeOptions(batch_size=8))


@pytest.mark.slow
def test_windows_of_several_jobs_share_a_batch_and_each_answer_is_its_solo_answer(whisper_base, clips):
    """whisper-base, one CPU lane of two windows: three jobs (a transcription and a translation of the
    same audio, another transcription; a prompt per row) in a batch of two and one of one; every
    job's segments (text, times, words) equal those it gets alone."""
    jobs: list[Job] = [([clips["a"]], "sv", "transcribe"), ([clips["a"]], "sv", "translate"),
                       ([clips["b"]], "sv", "transcribe")]  # fmt: skip
    alone = [run_job(Batcher(8), whisper_base, job) for job in jobs]
    batches: list[list[tuple[int, int]]] = []
    together = run_together(Batcher(8, linger_s=30, observer=batches.append), whisper_base, jobs)
    # The first batch waits for the lane's two windows; the third job's window comes next.
    assert [len(rows) for rows in batches] == [2, 1], batches
    assert together == alone
    texts = [" ".join(s.text for s in job[0]) for job in alone]
    assert all(texts), texts
    assert texts[1] != texts[0], "the same audio, translated: other text"


@pytest.mark.slow
def test_jobs_of_different_languages_share_a_batch_and_each_answer_is_its_solo_answer(whisper_base, clips):
    """A Swedish and an English job in one batch of two rows, each with its own language's prompt:
    each job's segments are those it gets alone, and each is in its own language."""
    jobs: list[Job] = [([clips["c"]], "sv", "transcribe"), ([clips["english"]], "en", "transcribe")]
    alone = [run_job(Batcher(8), whisper_base, job) for job in jobs]
    batches: list[list[tuple[int, int]]] = []
    together = run_together(Batcher(8, linger_s=30, observer=batches.append), whisper_base, jobs)
    assert [sorted(rows) for rows in batches] == [[(0, 0), (1, 0)]], "both jobs' windows in one batch"
    assert together == alone
    swedish, english = (" ".join(s.text for s in job[0]).lower() for job in alone)
    assert "ljudet" in swedish or "modellen" in swedish, swedish
    assert "weather" in english and "park" in english, english


@pytest.fixture(scope="module")
def tiny_en(english_model: Path) -> FasterWhisperRecogniser:
    # One CPU worker: one lane, so that the order of batches is the order of decoding.
    return FasterWhisperRecogniser(str(english_model), device="cpu", cpu_threads=1, options=DecodeOptions(batch_size=2))


def windows_of(clip: np.ndarray, count: int) -> list[np.ndarray]:
    return [clip[: len(clip) * (index + 1) // count] for index in range(count)][::-1] if count > 1 else [clip]


def start_long_job(
    batcher: Batcher, recogniser: FasterWhisperRecogniser, windows: list[np.ndarray], after_first: Callable[[], None]
) -> threading.Thread:
    def long() -> None:
        parts = batcher.recognise_parts(recogniser, [len(w) for w in windows], windows.__getitem__,
                                        language="en", task="transcribe")  # fmt: skip
        for number, _ in enumerate(parts):
            if number == 0:
                after_first()

    thread = threading.Thread(target=long)
    thread.start()
    return thread


def test_a_short_job_goes_into_the_next_batch_beside_a_long_one(tiny_en, english_speech):
    """Round-robin: a one-window job that arrives while a ten-window job is decoded is in the next
    batch or the one after (first come, first served would put it after all ten)."""
    clip = decode_audio(str(english_speech[0]))
    batches: list[list[tuple[int, int]]] = []
    batcher = Batcher(2, linger_s=0, observer=batches.append)
    seen_at: list[int] = []
    short: list[list[list[Segment]]] = []

    def add_short() -> None:
        seen_at.append(len(batches))
        short.append(run_job(batcher, tiny_en, ([clip[: 16_000 * 4]], "en", "transcribe")))

    long = start_long_job(batcher, tiny_en, windows_of(clip, 10), add_short)
    long.join(timeout=300)
    where = next(number for number, rows in enumerate(batches) if any(stream == 1 for stream, _ in rows))
    assert where <= seen_at[0] + 1, (where, seen_at, batches)
    assert sum(len(rows) for rows in batches) == 11, "every window decoded once"
    assert [index for rows in batches for stream, index in rows if stream == 0] == list(range(10)), "in order"


def test_a_cancelled_job_leaves_the_next_batches(tiny_en, english_speech):
    """Closing a job's iterator after its first part: none of its waiting windows is decoded."""
    clip = decode_audio(str(english_speech[0]))
    batches: list[list[tuple[int, int]]] = []
    batcher = Batcher(2, linger_s=0, observer=batches.append)
    windows = windows_of(clip, 10)
    parts = batcher.recognise_parts(tiny_en, [len(w) for w in windows], windows.__getitem__,
                                    language="en", task="transcribe")  # fmt: skip
    next(parts)
    parts.close()
    # The next batch may have been taken while the first part was handed over: at most two.
    assert sum(len(rows) for rows in batches) <= 4, batches
    other = run_job(batcher, tiny_en, ([clip[: 16_000 * 4]], "en", "transcribe"))
    assert other[0], "the batcher serves the next job"
    assert all(stream == 1 for stream, _ in batches[-1])


def test_a_window_that_fails_fails_its_own_job_only(tiny_en, english_speech):
    """An empty window makes the batch's decoding fail: it is decoded again job by job, and only the job
    with the bad window gets the error."""
    clip = decode_audio(str(english_speech[0]))
    batches: list[list[tuple[int, int]]] = []
    batcher = Batcher(2, linger_s=30, observer=batches.append)
    good, bad = run_together(
        batcher,
        tiny_en,
        [([clip[: 16_000 * 4]], "en", "transcribe"), ([np.zeros(0, dtype=np.float32)], "en", "transcribe")],
        errors=True,
    )
    assert sorted(stream for stream, _ in batches[0]) == [0, 1], "both in one batch first"
    assert isinstance(bad, Exception), bad
    assert good == run_job(Batcher(2), tiny_en, ([clip[: 16_000 * 4]], "en", "transcribe"))
    assert good[0], "the good job has its text"


@pytest.fixture(scope="module")
def two_lanes(english_model: Path) -> FasterWhisperRecogniser:
    return FasterWhisperRecogniser(str(english_model), device="cpu", cpu_threads=2, options=DecodeOptions(batch_size=8))


def test_a_long_jobs_last_windows_are_shared_out_among_both_lanes(two_lanes, english_speech):
    """Two CPU lanes of two windows, one job of six: batches of 2, 2, then 1 and 1, so that both cores
    decode the last windows (a lane that took both while its neighbour finished left one core idle:
    a 166 s narration took 1.3x as long as before cross-job batching)."""
    clip = decode_audio(str(english_speech[0]))
    batches: list[list[tuple[int, int]]] = []
    windows = windows_of(clip, 6)
    segments = run_job(Batcher(8, observer=batches.append), two_lanes, (windows, "en", "transcribe"))
    assert sorted(len(rows) for rows in batches) == [1, 1, 2, 2], batches
    assert all(segments), "every window has its text"


def test_a_worker_holds_twice_the_windows_its_model_decodes_at_once(two_lanes):
    """The ASR_JOBS_AT_ONCE default: 2 CPU lanes of 2 windows decode 4 at once, so 8 jobs; a GPU's whole
    batch (one lane, no lane limit) and a worker whose model did not load, twice the batch."""
    assert windows_at_once(two_lanes, 8) == 4
    assert SpeechSettings().jobs_at_once_for("cpu", windows_at_once(two_lanes, 8)) == 8
    whole_batch = SimpleNamespace(lanes=1, lane_windows=None)  # a GPU recogniser's two figures
    assert SpeechSettings().jobs_at_once_for("cuda", windows_at_once(whole_batch, 16)) == 32
    assert SpeechSettings().jobs_at_once_for("cpu") == 16
    assert SpeechSettings(ASR_JOBS_AT_ONCE=3).jobs_at_once_for("cpu", 4) == 3
