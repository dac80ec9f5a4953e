"""A job taken by a worker on several queues that dies before it starts the job is not lost.

RQ's BLPOP dequeue removed the id before the job was registered: a worker SIGKILLed in between
left the job "queued" in no list, never answered. Workers here serve predict and render (two
queues, as `python -m workers` and scripts/start.sh do) with a 2-second heartbeat TTL and a
1-second maintenance interval.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import redis
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.worker import Worker

from common.jobs import PredictionRequest, ReplyTo
from common.queues import PREDICT, RENDER, JobQueue
from tests.conftest import REPO
from tests.helpers import wait_for
from tests.test_faults import FAST_LIVENESS, child_pids, messages, stop

pytestmark = pytest.mark.slow

PAUSE_KEY = "test:pause-after-take"


def start_workers(env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "workers", "--queues", f"{PREDICT},{RENDER}", "--processes", "2", *FAST_LIVENESS, *extra,
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, cwd=REPO)


def ask_iris(connection: redis.Redis, outbox_name: str, retries: int = 1) -> str:
    features = {"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 5.1, "petal_width": 1.8}
    request = PredictionRequest("iris", features, ReplyTo(outbox_name, "chat-1"))
    return JobQueue(connection).enqueue(PREDICT, "workers.predict.run", request.to_dict(), retries=retries).job_id


def stopped_child(supervisor: subprocess.Popen[bytes]) -> int | None:
    """The worker process that stopped itself (state T), if any."""
    for pid in child_pids(supervisor):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "T":
                    return pid
        except FileNotFoundError:
            continue
    return None


def kill_a_worker_between_take_and_start(connection: redis.Redis, supervisor: subprocess.Popen[bytes],
                                         job_id: str) -> None:
    paused = wait_for(lambda: stopped_child(supervisor), timeout=60)
    job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    assert job.get_status() == "queued", "taken, not yet registered as started"
    assert connection.llen(JobQueue(connection).queue(PREDICT).key) == 0, "no longer in its queue"
    os.kill(paused, signal.SIGKILL)


def ready_worker_pids(connection: redis.Redis, supervisor: subprocess.Popen[bytes]) -> list[int]:
    """Children that took their place as RQ workers (not those still loading their models)."""
    registered = {worker.pid for worker in Worker.all(connection=connection)}
    return [pid for pid in child_pids(supervisor) if pid in registered]


def where(connection: redis.Redis, job_id: str) -> str:
    """Where an unanswered job is, for the failure message."""
    job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    lists = [key.decode() for key in connection.keys("rq:*") if connection.type(key) == b"list"
             and job_id.encode() in connection.lrange(key, 0, -1)]
    return f"{job_id}: {job.get_status()}, retries left {job.retries_left}, in {lists}"


def two_workers_ready(connection: redis.Redis, supervisor: subprocess.Popen[bytes]) -> bool:
    return len(child_pids(supervisor)) == 2 and len(Worker.all(connection=connection)) == 2


def test_a_job_whose_worker_dies_after_taking_it_is_run_by_another(connection, process_env):
    connection.set(PAUSE_KEY, 1)
    supervisor = start_workers(process_env, "--test-pause-key", PAUSE_KEY)
    try:
        wait_for(lambda: two_workers_ready(connection, supervisor), timeout=60)
        job_id = ask_iris(connection, "taken")
        kill_a_worker_between_take_and_start(connection, supervisor, job_id)
        killed_at = time.monotonic()
        # The bound: heartbeat TTL (2 s) + maintenance interval (1 s); 20 s leaves room for a busy machine.
        [answer] = wait_for(lambda: messages(connection, "taken"), timeout=20)
        took = time.monotonic() - killed_at
        assert (answer.kind, answer.job_id, answer.result["label"]) == ("prediction", job_id, "virginica")
        job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        wait_for(lambda: job.get_status(refresh=True) == "finished", timeout=10)
        assert job.retries_left == 0, "it was the job's retry that ran"
        assert took < 15, f"answered {took:.1f} s after the kill"
    finally:
        stop(supervisor)


def test_a_job_without_retries_whose_worker_dies_after_taking_it_is_reported_failed(connection, process_env):
    connection.set(PAUSE_KEY, 1)
    supervisor = start_workers(process_env, "--test-pause-key", PAUSE_KEY)
    try:
        wait_for(lambda: two_workers_ready(connection, supervisor), timeout=60)
        job_id = ask_iris(connection, "taken-once", retries=0)
        kill_a_worker_between_take_and_start(connection, supervisor, job_id)
        [failed] = wait_for(lambda: messages(connection, "taken-once"), timeout=20)
        assert (failed.kind, failed.final, failed.job_id) == ("failed", True, job_id)
        assert job_id in failed.text and "stopped" in failed.text
        queue = JobQueue(connection).queue(PREDICT)
        assert job_id in queue.failed_job_registry.get_job_ids()
        assert connection.llen(queue.intermediate_queue_key) == 0
    finally:
        stop(supervisor)


def test_every_prediction_is_answered_while_one_of_two_workers_is_killed_again_and_again(connection, process_env):
    """12 predictions every half second for 8 s, one of the two workers SIGKILLed after each batch."""
    supervisor = start_workers(process_env)
    try:
        wait_for(lambda: two_workers_ready(connection, supervisor), timeout=60)
        asked: list[str] = []
        kills = 0
        for _ in range(16):
            asked += [ask_iris(connection, "storm") for _ in range(12)]
            time.sleep(0.02)  # the workers are taking this batch now
            ready = ready_worker_pids(connection, supervisor)
            if ready:
                os.kill(random.choice(ready), signal.SIGKILL)
                kills += 1
            time.sleep(0.45)

        def answered() -> set[str]:
            return {message.job_id for message in messages(connection, "storm") if message.final}

        with contextlib.suppress(AssertionError):
            wait_for(lambda: answered() >= set(asked), timeout=90)
        assert answered() >= set(asked), [where(connection, job_id) for job_id in set(asked) - answered()]
        assert kills >= 4
        jobs = [Job.fetch(job_id, connection=connection, serializer=JSONSerializer) for job_id in asked]
        assert {job.get_status() for job in jobs} <= {"finished", "failed"}, "no job left queued"
    finally:
        stop(supervisor)
