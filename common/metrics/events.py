"""The one-line calls that record what happened; every label value comes from a short fixed list."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from common.metrics import definitions as m

logger = logging.getLogger(__name__)

TRANSCRIBE = "transcribe"  # common.queues.TRANSCRIBE, not imported: RQ stays out of the bots' metric path
_NAME = re.compile(r"[a-z0-9_]{1,24}")


def kind_of(function: str, payload: Any) -> str:
    """A job's kind: the model (iris, titanic), the speech task, or picture / dashboard for render jobs."""
    if function.endswith(".dashboard"):
        return "dashboard"
    if function == "workers.render.run":
        return "picture"
    value = (payload.get("task") or payload.get("model")) if isinstance(payload, Mapping) else None
    return value if isinstance(value, str) and _NAME.fullmatch(value) else "other"


def job_enqueued(queue: str, function: str, payload: Any) -> None:
    m.JOBS_ENQUEUED.labels(queue, kind_of(function, payload)).inc()


def job_finished(job: Any, outcome: str, result: Any = None) -> None:
    """An RQ job ended (done, failed, cancelled, refused): its count, wait and run time, speech figures.

    ``result``: a speech job's return value (audio length, cache hit); None for the others.
    """
    try:
        payload = job.args[0] if job.args else None
        queue, kind = job.origin, kind_of(job.func_name, payload)
        m.JOBS_FINISHED.labels(queue, kind, outcome).inc()
        started, enqueued, ended = job.started_at, job.enqueued_at, job.ended_at
        if started is not None and enqueued is not None:
            m.JOB_WAIT.labels(queue, kind).observe(max(0.0, (started - enqueued).total_seconds()))
        run_s = (ended - started).total_seconds() if started is not None and ended is not None else None
        if run_s is not None:
            m.JOB_RUN.labels(queue, kind).observe(max(0.0, run_s))
        if isinstance(result, Mapping) and not result.get("cached") and result.get("audio_s"):
            audio_s = float(result["audio_s"])
            m.SPEECH_AUDIO.labels(kind).inc(audio_s)
            if run_s is not None and audio_s > 0:
                m.SPEECH_RTF.observe(run_s / audio_s)
    except Exception as exc:  # a figure must never fail a job
        logger.warning("job metrics not recorded: %s", exc)


def platform_of(outbox: str) -> str:
    """An outbox's platform: ``console-<session>`` is the console."""
    return outbox.partition("-")[0] or "unknown"


def job_succeeded(job: Any) -> None:
    """A job returned: done, or cancelled when a speech job stopped at its user's /cancel."""
    try:
        result = job.return_value() if job.origin == TRANSCRIBE else None  # cached by then: no round trip
    except Exception:  # an unreadable result: the count still matters
        result = None
    cancelled = isinstance(result, Mapping) and bool(result.get("cancelled"))
    job_finished(job, "cancelled" if cancelled else "done", result)


def update(platform: str, result: str) -> None:
    m.UPDATES.labels(platform, result).inc()


def refused(platform: str, reason: str) -> None:
    m.REFUSALS.labels(platform, reason).inc()


def platform_request(platform: str, method: str, status: int | str, retry_after_s: float | None = None) -> None:
    m.PLATFORM_REQUESTS.labels(platform, method, str(status)).inc()
    if retry_after_s is not None:
        m.RETRY_AFTER.labels(platform).inc(max(0.0, retry_after_s))


def repeat_dropped(platform: str) -> None:
    m.REPEATS_DROPPED.labels(platform).inc()


def youtube_slot_wait(seconds: float) -> None:
    m.YOUTUBE_SLOT_WAIT.observe(max(0.0, seconds))


def model_loaded(model: str, version: int) -> None:
    m.MODEL_VERSION.labels(model).set(version)


def model_tag_loaded(model: str, tag: str) -> None:
    """A model named by its tag: "asr v3" is version 3; a Hub id or path (a setting, no version) is 0."""
    number = tag.rpartition(" v")[2]
    model_loaded(model, int(number) if number.isdigit() else 0)


def monitored(model: str, accuracy_7d: float | None, accuracy_all: float | None, drifting: bool) -> None:
    """A monitoring summary: the accuracies known, and whether the model is in the drift zone."""
    for window, value in (("7d", accuracy_7d), ("all", accuracy_all)):
        if value is not None:
            m.MONITOR_ACCURACY.labels(model, window).set(value)
    m.MONITOR_DRIFT.labels(model).set(1 if drifting else 0)
