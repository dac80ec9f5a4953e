"""What the user sees while a speech job runs, and the way to stop it.

Progress goes to ``job.meta["progress"]`` (for /status and operators) and, throttled, to the
user's outbox as ``progress`` messages that the chat adapters edit into one message.
A SimpleWorker cannot kill its running job, so /cancel sets a Redis flag that the job reads
between steps (common.jobs.cancel_key).
"""

from __future__ import annotations

import logging
import time

from rq.job import Job

from common import outbox
from common.jobs import OutboxMessage, ReplyTo, cancel_key

logger = logging.getLogger(__name__)

STAGES = {
    "waiting": "Waiting for a download slot",  # YouTube downloads are limited over all workers (download_slots.py)
    "fetching": "Fetching the video",
    "downloading": "Downloading the audio",
    "decoding": "Decoding the audio",
    "loading": "Loading the speech model",
    "recognising": "Recognising speech",
}
UNMEASURED = frozenset({"waiting", "loading"})
PREVIEW_CHARS = 300


class Cancelled(Exception):  # a state, not an error: the user asked for it
    """The user cancelled the job with /cancel."""


class Progress:
    def __init__(self, job: Job, reply: ReplyTo, *, min_interval_s: float = 1.0) -> None:
        self.job = job
        self.reply = reply
        self.min_interval_s = min_interval_s
        self._posted: tuple[str, int] | None = None
        self._posted_at = 0.0

    def update(self, stage: str, fraction: float, preview: str = "") -> None:
        percent = max(0, min(100, int(fraction * 100)))
        progress = {"stage": stage, "percent": percent}
        if self.job.meta.get("progress") != progress:  # yt-dlp reports every block it receives
            self.job.meta["progress"] = progress
            self.job.save_meta()
        now = time.monotonic()
        # A new stage and a stage's 100% are always shown; in between, at most one edit per interval.
        milestone = self._posted is None or self._posted[0] != stage or percent == 100
        if self._posted == (stage, percent) or (not milestone and now - self._posted_at < self.min_interval_s):
            return
        # A wait and a model load have no fraction to show.
        text = f"{STAGES.get(stage, stage)}…" if stage in UNMEASURED else f"{STAGES.get(stage, stage)}: {percent}%"
        if preview:
            shown = preview if len(preview) <= PREVIEW_CHARS else "…" + preview[-PREVIEW_CHARS:]
            text += f"\n{shown}"
        outbox.post(
            self.job.connection,
            OutboxMessage(kind="progress", reply=self.reply, job_id=self.job.id, text=text, final=False),
        )
        self._posted = (stage, percent)
        self._posted_at = now

    def check_cancel(self) -> None:
        if self.job.connection.exists(cancel_key(self.job.id)):
            raise Cancelled(self.job.id)
