"""The request's audio as samples: a link (yt-dlp) or uploaded bytes; checked on the way."""

from __future__ import annotations

import logging
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import numpy as np
import redis

from common import artifacts
from common.errors import VideoRejected
from common.jobs import TranscriptionRequest
from common.video_links import LinkPolicy, VideoLink, validate_link
from workers.speech import audio
from workers.speech.connect_guard import AddressGuard, guarding
from workers.speech.download import download_audio
from workers.speech.download_slots import DownloadSlots
from workers.speech.js_runtime import runtime_for_jobs
from workers.speech.metadata import RETRY_AFTER_S, check_duration
from workers.speech.progress import Progress
from workers.speech.runtime import SpeechRuntime

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5


def load_audio(
    connection: redis.Redis, request: TranscriptionRequest, runtime: SpeechRuntime, directory: Path, progress: Progress,
    on_download: Callable[[Path], None] | None = None,
) -> np.ndarray:
    """16 kHz mono samples; ``directory`` (removed by the caller) holds the downloaded file meanwhile.

    An artifact comes first: uploaded bytes, or the audio an earlier job of the same link kept (a
    button's job); past its lifetime the link is fetched again. ``on_download`` sees a downloaded file
    that decoded within the limits.
    """
    max_seconds = runtime.links.max_seconds
    progress.update("fetching", 0.0)
    data = artifacts.load(connection, request.artifact) if request.artifact else None
    if data is not None:
        path = directory / "upload"
        path.write_bytes(data)
    elif request.url:
        # Checked again here: what a name resolves to can change between queueing and now.
        link = validate_link(request.url, runtime.links)
        # YouTube links are canonical watch URLs for its own extractor; others may redirect anywhere.
        url = link.url if link.youtube else follow_redirects(link.url, runtime.links)
        path = fetch_link(connection, link, url, runtime, directory, progress)
    elif request.artifact:
        raise VideoRejected("Your file expired before I got to it; please send it again.")
    else:
        raise VideoRejected("There was nothing to transcribe in that request.")
    progress.check_cancel()
    progress.update("decoding", 0.0)
    # ffmpeg stops reading a second past the limit; ffprobe runs only to explain a refusal (no
    # sound track, or not media at all; a long file's whole length), not in every job.
    try:
        samples = audio.decode(path, max_seconds=max_seconds + 1)
    except VideoRejected:
        if not audio.probe(path).has_audio:  # probe raises its own sentence for a file it cannot read
            raise VideoRejected("That video has no sound track.") from None
        raise
    seconds = len(samples) / audio.SAMPLE_RATE
    if seconds > max_seconds:
        check_duration(max(audio.probe(path).duration or 0.0, seconds), max_seconds)
    if data is None and on_download is not None:  # downloaded (a file it refused is not worth keeping)
        on_download(path)
    return samples


def fetch_link(
    connection: redis.Redis, link: VideoLink, url: str, runtime: SpeechRuntime, directory: Path, progress: Progress
) -> Path:
    """The link checked, then its audio; a YouTube link inside one of the download slots that all workers share."""
    # A job's own copy: yt-dlp writes the cookie jar back when it closes, and workers sharing one
    # file would overwrite each other's rotated cookies (or read a half-written file).
    cookies = _private_copy(runtime.cookies, directory) if runtime.cookies is not None else None
    js_runtime = runtime_for_jobs() if link.youtube else None  # a broken Deno: refused in one sentence
    pacing = runtime.youtube_pacing
    if pacing is not None and not (link.youtube or (urlsplit(url).hostname or "").lower() in pacing.also_hosts):
        pacing = None
    sleep_s = pacing.sleep_s if pacing is not None else 0.0
    retry_after_s = pacing.retry_after_s if pacing is not None else RETRY_AFTER_S
    guard = AddressGuard(runtime.links)

    def fetch() -> Path:
        time.sleep(sleep_s)  # yt-dlp paces the requests within one run; this paces one run after another
        return download_audio(
            url,
            directory,
            youtube=link.youtube,
            cookies=cookies,
            max_seconds=runtime.links.max_seconds,
            before_download=progress.check_cancel,  # yt-dlp itself pauses sleep_s before the media
            on_progress=partial(progress.update, "downloading"),
            guard=guard,
            js_runtime=js_runtime,
            sleep_s=sleep_s,
            retry_after_s=retry_after_s,
        )

    if pacing is None:
        return fetch()

    def waiting(_waited_s: float) -> None:
        progress.update("waiting", 0.0)
        progress.check_cancel()  # /cancel works while the job waits

    slots = DownloadSlots(connection, pacing.slots, pacing.lease_s)
    with slots.hold(max_wait_s=pacing.max_wait_s, poll_s=pacing.poll_s, on_wait=waiting):
        progress.update("fetching", 0.0)
        return fetch()


def _private_copy(cookies: Path, directory: Path) -> Path | None:
    try:
        return Path(shutil.copyfile(cookies, directory / "cookies.txt"))
    except OSError as exc:
        logger.error("cannot read YTDLP_COOKIES %s (%s): fetching without cookies", cookies, exc)
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Leaves every 3xx alone (even one with a Location urllib cannot parse): urllib then raises HTTPError."""

    def http_error_302(self, *args: object) -> None:
        return None

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def follow_redirects(url: str, links: LinkPolicy, max_hops: int = MAX_REDIRECTS) -> str:
    """The URL a link finally leads to, each hop's target checked against ``links`` before it is asked.

    yt-dlp follows redirects without asking, so an allowed host answering 302 to 10.0.0.1 (or an
    open redirect on it) would make the worker fetch inside its own network. Errors other than a
    refusal leave the URL as it is: yt-dlp then tries it and words the failure.
    """
    opener = urllib.request.build_opener(_NoRedirect)
    for _ in range(max_hops + 1):
        # Only http(s): every URL here passed validate_link.
        request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})  # noqa: S310
        try:
            with guarding(links.private_hosts):  # a name that resolves differently now: refused as it connects
                opener.open(request, timeout=30).close()  # the headers only: the body is left unread
            return url
        except urllib.error.HTTPError as answer:
            answer.close()
            location = answer.headers.get("Location") if 300 <= answer.code < 400 else None
            if not location:
                return url
        except (urllib.error.URLError, OSError, ValueError):
            return url
        try:
            target = urljoin(url, location)
        except ValueError:
            target = location  # validate_link words what is wrong with it
        try:
            url = validate_link(target, links).url
        except VideoRejected as refused:
            logger.info("refused a redirect from %s to %s", url, target[:200])
            raise VideoRejected(f"That link redirects somewhere I do not fetch from. {refused}") from None
    raise VideoRejected(f"That link redirects more than {max_hops} times; send the video's own address.")
