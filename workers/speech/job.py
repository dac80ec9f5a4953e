"""The RQ job ``workers.speech.job.run``: a TranscriptionRequest dict in, text and files out.

Order: the cache first (same source, task, language and model: no work), then fetch and decode,
find the speech, recognise chunk by chunk (translating each chunk's segments when MT_MODEL is
set), cache, and post. Progress and the /cancel flag are handled between steps.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rq import get_current_job
from transformers.models.whisper.tokenization_whisper import LANGUAGES

from common import outbox
from common.errors import VideoRejected
from common.jobs import OutboxMessage, TranscriptionRequest
from workers.speech import cache, runtime
from workers.speech.backends import Segment
from workers.speech.chunks import speech_chunks
from workers.speech.progress import Cancelled, Progress
from workers.speech.recognise import recognise_chunks
from workers.speech.results import post_results
from workers.speech.source import load_audio

logger = logging.getLogger(__name__)


def run(payload: dict[str, Any]) -> dict[str, Any]:
    job = get_current_job()
    assert job is not None, "run as an RQ job"
    request = TranscriptionRequest.from_dict(payload)
    progress = Progress(job, request.reply)
    try:
        return transcribe(request, runtime.current(), progress)
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
    if request.language not in LANGUAGES:
        raise VideoRejected(f"Whisper does not know the language code '{request.language}'; try sv, en, fi, de, ...")
    source = speech.models.source()
    marian = speech.mt_model if request.task == "translate" else None
    model_tag = source.tag + (f" + {marian}" if marian else "")
    key = cache.cache_key(request.source_id, request.task, request.language, model_tag)
    segments = cache.load(connection, key)
    cached = segments is not None
    timings = {"fetch_s": 0.0, "detect_s": 0.0, "recognise_s": 0.0}
    if segments is None:
        progress.check_cancel()
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="speech-") as directory:
            samples = load_audio(connection, request, speech, Path(directory), progress)
        timings["fetch_s"] = time.perf_counter() - started
        started = time.perf_counter()
        chunks = speech_chunks(samples, max_chunk_s=speech.max_chunk_s)
        timings["detect_s"] = time.perf_counter() - started
        progress.update("loading", 0.0)
        _, recogniser = speech.models.current()
        translator = speech.translator() if marian else None
        shown: list[str] = []

        def after_chunk(fraction: float, found: list[Segment]) -> list[Segment]:
            if translator is not None and found:
                found = [
                    replace(s, text=t)
                    for s, t in zip(found, translator.translate([s.text for s in found]), strict=True)
                ]
            shown.extend(s.text for s in found)
            progress.update("recognising", fraction, preview=" ".join(shown))
            progress.check_cancel()
            return found

        progress.check_cancel()
        started = time.perf_counter()
        segments = recognise_chunks(
            recogniser,
            samples,
            chunks,
            language=request.language,
            task="transcribe" if marian else request.task,
            after_chunk=after_chunk,
        )
        timings["recognise_s"] = time.perf_counter() - started
        if not segments:
            raise VideoRejected("I heard no speech in that video.")
        cache.store(connection, key, segments, speech.cache_ttl_s)
    note = f"{model_tag}, from cache" if cached else model_tag
    post_results(connection, progress.job.id, request, segments, note)
    return {"segments": len(segments), "cached": cached, "model": model_tag, **timings}
