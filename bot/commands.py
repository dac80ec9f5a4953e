"""The platform-neutral bot: text in, an immediate answer out, jobs queued for the workers.

Adapters (console, Telegram, Discord) call :meth:`Commands.handle` and send its answer; the
job's results come back later through their outbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rq.command import send_stop_job_command
from rq.job import JobStatus

from bot.parsing import Help, JobControl, Predict, Speech, Subscription, parse
from bot.replies import HELP_TEXT, acknowledgement, ordinal
from common.errors import UserError
from common.jobs import PredictionRequest, ReplyTo
from common.queues import PREDICT, JobQueue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    text: str
    job_id: str | None = None  # set when a job was queued: its results follow through the outbox


class Commands:
    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    def handle(self, text: str, reply: ReplyTo) -> Answer:
        try:
            command = parse(text)
            if isinstance(command, Help):
                return Answer(HELP_TEXT)
            if isinstance(command, Predict):
                return self._predict(command, reply)
            if isinstance(command, JobControl):
                return Answer(self._job_control(command, reply))
            if isinstance(command, Speech):
                return Answer(f"/{command.task} is not available yet: speech jobs are coming soon.")
            if isinstance(command, Subscription):
                return Answer(f"/{command.action} is not available yet: daily monitoring is coming soon.")
        except UserError as exc:
            return Answer(str(exc))
        raise AssertionError(f"unhandled command {command!r}")

    def _predict(self, command: Predict, reply: ReplyTo) -> Answer:
        request = PredictionRequest(model=command.model, features=command.features, reply=reply.to_dict())
        enqueued = self.queue.enqueue(PREDICT, "workers.predict.run", request.to_dict(), timeout=60)
        logger.info("queued %s job %s", command.model, enqueued.job_id)
        return Answer(acknowledgement(enqueued.job_id, enqueued.position), enqueued.job_id)

    def _job_control(self, command: JobControl, reply: ReplyTo) -> str:
        job = self.queue.fetch(command.job_id)
        payload = job.args[0] if job and job.args and isinstance(job.args[0], dict) else {}
        if job is None or payload.get("reply", {}).get("chat") != reply.chat:
            return f"I have no job {command.job_id} of yours (finished jobs are forgotten after a while)."
        status = job.get_status()
        if command.action == "status":
            if status == JobStatus.QUEUED:
                position = job.get_position()
                return f"Job {job.id} is {ordinal((position or 0) + 1)} in line."
            return f"Job {job.id} is {status.value if status else 'unknown'}."
        if status in {JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED}:
            job.cancel()
            return f"Cancelled job {job.id}."
        if status == JobStatus.STARTED:
            send_stop_job_command(self.queue.connection, job.id)
            return f"Stopping job {job.id}."
        return f"Job {job.id} is already {status.value if status else 'gone'}."
