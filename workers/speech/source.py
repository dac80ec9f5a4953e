"""The request's audio as samples: a link (yt-dlp), a file URL, or uploaded bytes; checked on the way."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import redis

from common import artifacts
from common.errors import VideoRejected
from common.jobs import TranscriptionRequest
from common.video_links import validate_link
from workers.speech import audio
from workers.speech.download import download_audio
from workers.speech.metadata import check_duration, read_metadata
from workers.speech.progress import Progress
from workers.speech.runtime import SpeechRuntime

logger = logging.getLogger(__name__)


def load_audio(
    connection: redis.Redis, request: TranscriptionRequest, runtime: SpeechRuntime, directory: Path, progress: Progress
) -> np.ndarray:
    """16 kHz mono samples; ``directory`` (removed by the caller) holds the downloaded file meanwhile."""
    max_seconds = runtime.links.max_seconds
    progress.update("fetching", 0.0)
    if request.url:
        # Checked again here: what a name resolves to can change between queueing and now.
        link = validate_link(request.url, runtime.links)
        read_metadata(link.url, youtube=link.youtube, cookies=runtime.cookies, max_seconds=max_seconds)
        progress.check_cancel()
        path = download_audio(
            link.url,
            directory,
            youtube=link.youtube,
            cookies=runtime.cookies,
            on_progress=lambda fraction: progress.update("downloading", fraction),
        )
    elif request.audio_url:
        path = download_audio(
            request.audio_url,
            directory,
            youtube=False,
            cookies=None,
            on_progress=lambda fraction: progress.update("downloading", fraction),
        )
    elif request.artifact:
        data = artifacts.load(connection, request.artifact)
        if data is None:
            raise VideoRejected("Your file expired before I got to it; please send it again.")
        path = directory / "upload"
        path.write_bytes(data)
    else:
        raise VideoRejected("There was nothing to transcribe in that request.")
    progress.check_cancel()
    found = audio.probe(path)
    if not found.has_audio:
        raise VideoRejected("That video has no sound track.")
    check_duration(found.duration, max_seconds)
    progress.update("decoding", 0.0)
    samples = audio.decode(path, max_seconds=max_seconds + 1)
    check_duration(len(samples) / audio.SAMPLE_RATE, max_seconds)
    return samples
