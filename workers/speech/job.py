"""The RQ job ``workers.speech.job.run``: a TranscriptionRequest dict in, text and files out.

Order: the cache first (same source, task, language and model: no work), then fetch and decode,
find the speech, (for lang=auto) hear which language it is, recognise batch by batch
(translating each batch's segments when MT_MODEL is set), cache, and post. Progress and the
/cancel flag are handled between steps and between batches.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from rq import get_current_job

from common import artifacts, outbox
from common.errors import VideoRejected
from common.jobs import OutboxMessage, TranscriptionRequest
from workers.speech import audio, cache, coverage, language, languages, runtime
from workers.speech.backends import Recogniser, Segment
from workers.speech.cache import Transcript
from workers.speech.chunks import Chunk, speech_chunks
from workers.speech.languages import AUTO, NAMES
from workers.speech.progress import Cancelled, Progress
from workers.speech.recognise import recognise_chunks
from workers.speech.results import post_results
from workers.speech.source import load_audio

logger = logging.getLogger(__name__)

# A link's downloaded audio is kept this long after a transcript, for its "English" button: the
# translation then needs no second download. YouTube's audio-only streams are about 1 MB a minute.
KEEP_AUDIO_S = 3600
KEEP_AUDIO_BYTES = 64 * 2**20


def run(payload: dict[str, Any]) -> dict[str, Any]:
    job = get_current_job()
    assert job is not None, "run as an RQ job"
    request = TranscriptionRequest.from_dict(payload)
    progress = Progress(job, request.reply)
    speech = runtime.current()
    assert speech.batcher is not None
    try:
        with speech.batcher.expecting():  # a batch may wait a moment for this job's windows
            return transcribe(request, speech, progress)
    except Cancelled:
        logger.info("job %s cancelled by its user", job.id)
        outbox.post(
            job.connection,
            OutboxMessage(
                kind="text",
                reply=request.reply,
                job_id=job.id,
                text=f"Stopped job {job.id} as you asked.",
            ),
        )
        return {"cancelled": True}


def transcribe(request: TranscriptionRequest, speech: runtime.SpeechRuntime, progress: Progress) -> dict[str, Any]:
    connection = progress.job.connection
    auto = request.language == AUTO
    if not auto and request.language not in NAMES:
        raise VideoRejected(
            f"Whisper does not know the language code '{request.language}'; try sv, en, fi, de, ... or auto."
        )
    source = speech.models.source()
    marian = speech.mt_model if request.task == "translate" else None
    model_tag = source.tag + (f" + {marian}" if marian else "")
    heard: language.Heard | None = None
    if auto:  # the language heard in this source before, if any: its transcript may be cached
        remembered = cache.load_language(connection, cache.language_key(request.source_id, model_tag))
        heard = language.Heard(*remembered) if remembered else None

    def key() -> str:  # by the language heard, for lang=auto
        spoken = heard.language if heard else request.language
        return cache.cache_key(request.source_id, request.task, spoken, model_tag)

    transcript = cache.load(connection, key()) if heard or not auto else None
    cached = transcript is not None
    timings = {"fetch_s": 0.0, "detect_s": 0.0, "language_s": 0.0, "recognise_s": 0.0}
    audio_s = None  # of the audio fetched, for the bots' waiting times (common/durations.py)
    downloaded: list[bytes] = []  # the link's audio file, kept once the transcript is out

    def keep(path: Path) -> None:
        if request.task == "transcribe" and path.stat().st_size <= KEEP_AUDIO_BYTES:
            downloaded.append(path.read_bytes())

    if transcript is None:
        progress.check_cancel()
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="speech-") as directory:
            samples = load_audio(connection, request, speech, Path(directory), progress, on_download=keep)
        timings["fetch_s"] = time.perf_counter() - started
        audio_s = round(len(samples) / audio.SAMPLE_RATE, 1)
        started = time.perf_counter()
        chunks = speech_chunks(samples, max_chunk_s=speech.max_chunk_s)
        timings["detect_s"] = time.perf_counter() - started
        progress.update("loading", 0.0)
        _, recogniser = speech.recogniser()
        if auto and heard is None:
            progress.check_cancel()
            started = time.perf_counter()
            heard = language.detect(recogniser, samples, chunks)
            timings["language_s"] = time.perf_counter() - started
            logger.info("job %s: %s", progress.job.id, heard.describe())
            cache.store_language(
                connection, cache.language_key(request.source_id, model_tag), heard.language, heard.probability,
                speech.cache_ttl_s,
            )  # fmt: skip
            transcript = cache.load(connection, key())
            cached = transcript is not None
        if transcript is None:
            started = time.perf_counter()
            spoken = heard.language if heard else request.language
            transcript = _recognise(speech, recogniser, samples, chunks, spoken, request.task, progress)
            timings["recognise_s"] = time.perf_counter() - started
            cache.store(connection, key(), transcript, speech.cache_ttl_s)
    note = f"{model_tag}, from cache" if cached else model_tag
    if heard:
        note += f"; {heard.describe()}"
        request = replace(request, language=heard.language)  # the files are named after it
    post_results(
        connection, progress.job.id, request, transcript.segments, note, coverage.notice(transcript.coverage),
        buttons(request, heard),
    )
    return {
        "audio": artifacts.store(connection, downloaded[0], ttl_s=KEEP_AUDIO_S) if downloaded else None,
        "segments": len(transcript.segments),
        "coverage": round(transcript.coverage.share, 3),
        "missed": [list(span) for span in transcript.coverage.missed],
        "cached": cached,
        "audio_s": audio_s,
        "model": model_tag,
        "language": request.language,
        "language_probability": heard.probability if heard else None,
        **timings,
    }


def buttons(request: TranscriptionRequest, heard: language.Heard | None) -> list[list[str]]:
    """Under a transcript: English (not for English speech), and the runner-up of an unsure lang=auto."""
    offered = []
    if request.task == "transcribe" and request.language != "en":
        offered.append(["English", "translate"])
    if heard is not None and heard.runner_up:
        offered.append([f"Transcribe as {languages.name(heard.runner_up)}", f"transcribe:{heard.runner_up}"])
    return offered


def _recognise(
    speech: runtime.SpeechRuntime,
    recogniser: Recogniser,
    samples: np.ndarray,
    chunks: list[Chunk],
    spoken: str,
    task: str,
    progress: Progress,
) -> Transcript:
    """Every chunk, part by part: after each part, translation (MT_MODEL), progress and /cancel.

    Coverage is measured on what the model heard, before Marian replaces the text (and its words).
    """
    translator = speech.translator() if task == "translate" and speech.mt_model else None
    shown: list[Segment] = []  # for the preview, in the audio's order (parts finish in any order)
    heard: list[Segment] = []

    def after_batch(fraction: float, found: list[Segment]) -> list[Segment]:
        heard.extend(found)
        if translator is not None and found:
            # Marian translates the text; the words' times belong to the Swedish words, so they go.
            texts = translator.translate([s.text for s in found])
            found = [replace(s, text=t, words=()) for s, t in zip(found, texts, strict=True)]
        shown.extend(found)
        shown.sort(key=lambda segment: segment.start)
        progress.update("recognising", fraction, preview=" ".join(segment.text for segment in shown))
        progress.check_cancel()
        return found

    progress.check_cancel()
    segments = recognise_chunks(
        recogniser,
        samples,
        chunks,
        language=spoken,
        task="transcribe" if translator is not None else task,
        batch_size=speech.models.options.batch_size,
        after_batch=after_batch,
    )
    regions = [region for chunk in chunks for region in chunk.regions]
    made_out = coverage.measure(regions, heard)
    if not segments:  # the detector heard speech, the model wrote nothing of it
        heard_at = coverage.listing(made_out.missed or regions)
        raise VideoRejected(f"I heard speech at {heard_at} but could not make out any words.")
    return Transcript(segments, made_out)
