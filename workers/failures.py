"""RQ's failure callback for every job: after the last try, tell the user, with the job id."""

from __future__ import annotations

import logging
from types import TracebackType

import redis
from rq.exceptions import AbandonedJobError
from rq.job import Job

from common import outbox, usage
from common.errors import UserError
from common.jobs import OutboxMessage, ReplyTo
from common.metrics import events as metric_events

logger = logging.getLogger(__name__)


def report_failure(
    job: Job,
    connection: redis.Redis,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    if job.should_retry:
        # RQ runs it again (after an exception, or when a worker finds the job of a dead one, which
        # calls this before it retries): the user hears about the last try only.
        return
    metric_events.job_finished(job, "refused" if isinstance(exc_value, UserError) else "failed")
    try:
        usage.failed(connection, job.origin)
    except redis.RedisError as exc:  # a figure for /stats; the user must still be told
        logger.warning("could not count the failure of job %s: %s", job.id, exc)
    payload = job.args[0] if job.args and isinstance(job.args[0], dict) else {}
    reply = payload.get("reply")
    if not reply or not isinstance(reply, dict):
        logger.error("job %s failed and has no reply address", job.id)
        return
    buttons = getattr(exc_value, "buttons", [])  # "Transcribe as ..." under an unclear language
    if isinstance(exc_value, UserError):
        text = str(exc_value)
    elif exc_type is AbandonedJobError:
        # Reported by the worker that found the job of a dead one (killed, out of memory, machine lost).
        text = f"Sorry, job {job.id} failed: the worker running it stopped. It is kept for the operators."
    else:
        text = (
            f"Sorry, job {job.id} failed ({exc_type.__name__ if exc_type else 'error'}). It is kept for the operators."
        )
    outbox.post(
        connection,
        OutboxMessage(
            kind="failed", reply=ReplyTo.from_dict(reply), job_id=payload.get("job_id") or job.id, text=text,
            part="failed", buttons=buttons,
        ),
    )
