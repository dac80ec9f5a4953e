"""A job for the pacing tests: the worker's own ``source.load_audio`` of a link, paced like YouTube.

Real RQ workers (``rq worker`` subprocesses, or a SimpleWorker in the test) import it by dotted path
(``tests.youtube_jobs.fetch``). YouTube itself cannot be reached offline, so the pacing is pointed at
127.0.0.1 through ``YoutubePacing.also_hosts``: yt-dlp's generic extractor downloads from a local
server while the slots work exactly as they do for YouTube links.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rq import get_current_job

from common.jobs import ReplyTo, TranscriptionRequest
from common.registry import LocalModelRegistry
from common.video_links import LinkPolicy
from workers.speech.download_slots import YoutubePacing
from workers.speech.models import AsrModels
from workers.speech.progress import Cancelled, Progress
from workers.speech.runtime import SpeechRuntime
from workers.speech.source import load_audio

REPLY = ReplyTo(outbox="console-slots", chat="c1")


def pacing_for(payload: dict[str, Any]) -> YoutubePacing | None:
    if not payload.get("slots"):
        return None
    return YoutubePacing(
        slots=payload["slots"],
        sleep_s=0.0,
        lease_s=payload.get("lease_s", 10.0),
        max_wait_s=payload.get("max_wait_s", 60.0),
        poll_s=0.05,
        also_hosts=frozenset({"127.0.0.1"}),
    )


def fetch(payload: dict[str, Any]) -> dict[str, Any]:
    job = get_current_job()
    assert job is not None, "run as an RQ job"
    with tempfile.TemporaryDirectory(prefix="slots-") as directory:
        speech = SpeechRuntime(
            models=AsrModels(LocalModelRegistry(Path(directory) / "models"), "unused", "ctranslate2", "cpu"),
            links=LinkPolicy(frozenset(), frozenset({"127.0.0.1"}), 600),
            youtube_pacing=pacing_for(payload),
        )
        request = TranscriptionRequest(task="transcribe", reply=REPLY, source_id="url:test", url=payload["url"])
        try:
            samples = load_audio(job.connection, request, speech, Path(directory), Progress(job, REPLY))
        except Cancelled:
            return {"cancelled": True}
    return {"seconds": len(samples) / 16000}
