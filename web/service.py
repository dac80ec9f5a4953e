"""What every tab does with the queue: who is asking, send a command as the bots do, follow a job's messages.

The web is one more front end of :class:`bot.commands.Commands`: a form becomes the command text a
chat user would type, so the validation, the error words, the limits and the acknowledgements are
the bots' own. Each login (or anonymous browser session) is its own chat in the "web" outbox, so
/status, /cancel and the queue tab see only that user's jobs.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import redis
from rq.job import JobStatus

from bot.commands import Answer, Commands
from common import artifacts
from common.jobs import DashboardRequest, OutboxMessage, ReplyTo
from common.queues import RENDER
from web.results import OUTBOX, Results, entry_order

POLL_S = 0.02  # how often a waiting page looks at its job's list (a local Redis LRANGE: microseconds)
STATUS_EVERY_S = 1.0  # how often it asks RQ whether the job was cancelled in line
STRAGGLER_S = 0.2  # how long after a job's final message an earlier one may still be on its way


@dataclass(frozen=True)
class Visitor:
    """A logged-in user (``login``) or an anonymous browser session."""

    who: str  # "alice", or "anon-<session hash>"
    login: str | None

    @property
    def reply(self) -> ReplyTo:
        return ReplyTo(outbox=OUTBOX, chat=self.who, user=self.who)


def visitor(username: str | None, session_hash: str | None) -> Visitor:
    if username:
        return Visitor(username, username)
    return Visitor(f"anon-{session_hash or 'unknown'}", None)


class WebService:
    def __init__(
        self, commands: Commands, connection: redis.Redis, *, logins: bool, public: bool, wait_s: float = 120.0
    ) -> None:
        self.commands = commands
        self.connection = connection
        self.results = Results(connection)
        self.logins = logins  # WEB_USERS is set: every page is behind a login
        self.public = public  # WEB_PUBLIC: anonymous strangers may use it
        self.wait_s = wait_s  # a page stops waiting for a prediction's answer after this

    async def send(self, text: str, who: Visitor, what: str) -> Answer:
        """A command as a chat user would type it; the job (if one was queued) joins the visitor's list."""
        # Off the event loop: a speech link's check resolves its host name.
        answer = await asyncio.to_thread(self.commands.handle, text, who.reply)
        if answer.job_id:
            self.results.remember_job(who.who, answer.job_id, what)
        return answer

    async def send_upload(self, task: str, who: Visitor, data: bytes, filename: str, language: str) -> Answer:
        answer = await asyncio.to_thread(self.commands.transcribe_upload, task, who.reply, data, filename, language)
        if answer.job_id:
            self.results.remember_job(who.who, answer.job_id, f"{task} {filename[:40]}")
        return answer

    async def follow(self, job_id: str, wait_s: float | None = None) -> AsyncIterator[OutboxMessage]:
        """The job's messages in the outbox's order as they come, through its first final one.

        After the final one it looks once more, a moment later, for an earlier message another web
        process had read but not yet stored. Ends early when the job was cancelled in line (no
        message will come).
        """
        seen: set[str] = set()
        deadline = time.monotonic() + (wait_s or self.wait_s)
        next_look = time.monotonic() + STATUS_EVERY_S
        final_at: float | None = None
        final_entry = (0, 0)
        while time.monotonic() < deadline:
            fresh = [(entry, message) for entry, message in self.results.of_job(job_id) if entry not in seen]
            for entry, message in fresh:
                if final_at is not None and entry_order(entry) > final_entry:
                    continue  # a second run's answer, after the first one's end
                seen.add(entry)
                yield message
                if message.final and final_at is None:
                    final_at, final_entry = time.monotonic(), entry_order(entry)
            if final_at is not None and time.monotonic() - final_at >= STRAGGLER_S:
                return
            if final_at is None and time.monotonic() >= next_look:
                next_look = time.monotonic() + STATUS_EVERY_S
                job = self.commands.queue.fetch(job_id)
                if job is not None and job.get_status() == JobStatus.CANCELED:
                    return
            await asyncio.sleep(POLL_S)

    def enqueue_round(self, model: str, who: Visitor) -> Answer:
        """A monitoring round now (scheduler.jobs.round_now on the render queue), under the user's limits."""
        refused = self.commands.admit(who.reply, RENDER)
        if refused is not None:
            return refused
        request = DashboardRequest(model=model, reply=who.reply)
        enqueued = self.commands.queue.enqueue(RENDER, "scheduler.jobs.round_now", request.to_dict(), timeout=120)
        self.results.remember_job(who.who, enqueued.job_id, f"{model} monitoring round")
        return Answer(f"A {model} monitoring round is queued as job {enqueued.job_id}.", enqueued.job_id)

    def artifact(self, key: str | None) -> bytes | None:
        return artifacts.load(self.connection, key) if key else None

    def may_run_rounds(self, who: Visitor) -> bool:
        """Logged-in users; with no logins, the operator on loopback (not strangers of WEB_PUBLIC)."""
        return who.login is not None or (not self.logins and not self.public)


def png_image(data: bytes | None) -> Any:
    """A worker's PNG as the PIL image gr.Image shows; None when the artifact expired."""
    if data is None:
        return None
    from PIL import Image

    return Image.open(io.BytesIO(data))
