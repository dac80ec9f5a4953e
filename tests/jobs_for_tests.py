"""A job function for fault tests: it holds still until the test lets it go.

A worker imports it by dotted path (``tests.jobs_for_tests.hold``); worker subprocesses run with the
repository as their working directory, so ``tests`` is importable there. The test then knows the job
is in the middle of its run (``started`` key set) while it kills a worker or restarts Redis.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rq import get_current_job

from common import outbox
from common.jobs import OutboxMessage, ReplyTo

logger = logging.getLogger(__name__)


def started_key(name: str) -> str:
    return f"test-hold:{name}:started"


def release_key(name: str) -> str:
    return f"test-hold:{name}:release"


def hold(payload: dict[str, Any]) -> dict[str, Any]:
    """Mark the run as started, wait until ``release_key`` is set, then post one answer."""
    job = get_current_job()
    assert job is not None, "run as an RQ job"
    name = payload["name"]
    connection = job.connection
    runs = connection.incr(started_key(name))
    # No retry loop of its own: the worker's connection waits out a short restart of Redis.
    while not connection.exists(release_key(name)):
        time.sleep(0.05)
    result = {"name": name, "runs": int(runs)}
    reply = ReplyTo.from_dict(payload["reply"])
    answer = OutboxMessage(kind="text", reply=reply, job_id=job.id, text=f"done {name}", result=result)
    outbox.post(connection, answer)
    return result
