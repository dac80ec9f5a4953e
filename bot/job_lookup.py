"""/status and /cancel find a user's job by its id or by the first characters of it.

The bot shows job ids in full (12 characters) in acknowledgements and by their first 8 in file
names and examples; users type either. A prefix is looked up with SCAN over RQ's job keys: O(keys),
but /status and /cancel are rare next to the jobs themselves.
"""

from __future__ import annotations

import re
from typing import Any

from rq.job import Job

from common.errors import BadCommand
from common.jobs import ReplyTo
from common.queues import JobQueue

MIN_PREFIX = 6  # 16 million ids: a chat's own jobs practically never share one
JOB_KEY = re.compile(rb"rq:job:([0-9a-f]+)")


def find_job(queue: JobQueue, job_id: str, asker: ReplyTo) -> Job | None:
    """The job of the asker's chat whose id is ``job_id`` or starts with it; None when there is none.

    A chat is known by its platform's outbox and its id: chat ids of different platforms may be
    equal, and every console session's chat is "console". Raises BadCommand when the prefix fits
    several of the chat's jobs.
    """
    chat = (asker.outbox, asker.chat)
    job = queue.fetch(job_id)
    if job is not None and _chat_of(job) == chat:
        return job
    prefix = job_id.lower()
    if len(prefix) < MIN_PREFIX or not re.fullmatch(r"[0-9a-f]+", prefix):
        return None
    matches = []
    for key in queue.connection.scan_iter(match=f"{Job.redis_job_namespace_prefix}{prefix}*", count=1000):
        found = JOB_KEY.fullmatch(key)  # leaves out rq:job:<id>:dependents and the like
        candidate = queue.fetch(found.group(1).decode()) if found else None
        if candidate is not None and _chat_of(candidate) == chat:
            matches.append(candidate)
    if len(matches) > 1:
        raise BadCommand(f"Several of your jobs start with {prefix}: give more of the id.")
    return matches[0] if matches else None


def _chat_of(job: Job) -> tuple[Any, Any] | None:
    """(outbox, chat) of the job's reply address."""
    payload = job.args[0] if job.args and isinstance(job.args[0], dict) else {}
    reply = payload.get("reply")
    return (reply.get("outbox"), reply.get("chat")) if isinstance(reply, dict) else None
