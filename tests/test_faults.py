"""Faults survived by the workers, with real processes: a SIGKILLed worker, a restarted Redis.

The jobs here are ``tests.jobs_for_tests.hold``: each holds still until the test releases it, so a
worker is killed (or Redis restarted) while the job is certainly in the middle of its run. Workers
run with a 2-second heartbeat and a 1-second maintenance interval, so that RQ finds the job of a
dead worker in about 3 s instead of minutes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.worker import Worker

from common import outbox
from common.embedded_redis import free_port, start_server
from common.jobs import OutboxMessage, PredictionRequest, ReplyTo
from common.queues import PREDICT, JobQueue
from tests.conftest import REPO
from tests.helpers import wait_for
from tests.jobs_for_tests import release_key, started_key

pytestmark = pytest.mark.slow

FAST_LIVENESS = ["--heartbeat-ttl", "2", "--maintenance-interval", "1"]


def start_workers(env: dict[str, str], processes: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "workers", "--queues", PREDICT, "--processes", str(processes), *FAST_LIVENESS]
    return subprocess.Popen(command, env=env, cwd=REPO)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the supervisor; when a held job keeps a worker from its warm shutdown, kill the workers too."""
    children = child_pids(process)
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.kill()
        process.wait(timeout=5)


def child_pids(supervisor: subprocess.Popen[bytes]) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True).stdout
    return sorted(int(pid) for pid in found.split())


def hold(connection: redis.Redis, name: str, outbox_name: str) -> str:
    payload = {"name": name, "reply": ReplyTo(outbox_name, "chat-1").to_dict()}
    return JobQueue(connection).enqueue(PREDICT, "tests.jobs_for_tests.hold", payload).job_id


def runs(connection: redis.Redis, name: str) -> int:
    return int(connection.get(started_key(name)) or 0)


def pid_running(connection: redis.Redis, job_id: str) -> int:
    """The pid of the worker process that runs the job now."""
    job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    pid = connection.hget(Worker.redis_worker_namespace_prefix + job.worker_name, "pid")
    assert pid is not None, f"worker {job.worker_name} is not registered"
    return int(pid)


def messages(connection: redis.Redis, outbox_name: str) -> list[OutboxMessage]:
    entries = connection.xrange(outbox.stream_name(outbox_name))
    return [OutboxMessage.from_dict(json.loads(fields[b"data"])) for _, fields in entries]


def kill_the_worker_of(connection: redis.Redis, job_id: str, name: str, run: int) -> int:
    """Wait for the job's ``run``-th start, SIGKILL the process running it; its pid."""
    wait_for(lambda: runs(connection, name) >= run, timeout=30)
    assert runs(connection, name) == run
    pid = pid_running(connection, job_id)
    os.kill(pid, signal.SIGKILL)
    return pid


@contextlib.contextmanager
def maintenance_passes(connection: redis.Redis, queue: str) -> Iterator[Callable[[], int]]:
    """Counts the idle workers' searches for abandoned jobs of ``queue``: RQ takes a cleaning lock for each.

    Keyspace notifications report every SET of that key, so a test waits for passes, not for time.
    """
    connection.config_set("notify-keyspace-events", "K$")
    db = connection.connection_pool.connection_kwargs.get("db", 0)
    pubsub = connection.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(f"__keyspace@{db}__:rq:clean_registries:{queue}")
    seen = 0

    def passes() -> int:
        nonlocal seen
        while (message := pubsub.get_message(timeout=0.05)) is not None:
            seen += message["data"] == b"set"
        return seen

    try:
        yield passes
    finally:
        pubsub.close()
        connection.config_set("notify-keyspace-events", "")


def test_a_job_of_a_killed_worker_is_retried_on_another_and_answered_once(connection, process_env):
    supervisor = start_workers(process_env, processes=2)
    try:
        job_id = hold(connection, "k1", "kill-once")
        killed = kill_the_worker_of(connection, job_id, "k1", run=1)
        wait_for(lambda: runs(connection, "k1") == 2, timeout=30)
        assert pid_running(connection, job_id) != killed, "the retry runs in another process"
        connection.set(release_key("k1"), 1)
        [answer] = wait_for(lambda: messages(connection, "kill-once"), timeout=30)
        job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        wait_for(lambda: job.get_status(refresh=True) == "finished", timeout=10)
        assert (answer.kind, answer.job_id, answer.result) == ("text", job_id, {"name": "k1", "runs": 2})
        assert job.retries_left == 0
        wait_for(lambda: supervisor.poll() is None and len(child_pids(supervisor)) == 2, timeout=20)
        assert len(messages(connection, "kill-once")) == 1, "exactly one answer, and no 'failed' for the first try"
    finally:
        stop(supervisor)


def test_a_long_job_of_a_live_worker_is_not_taken_for_abandoned(connection, process_env):
    """The job outlives its 2-second heartbeat TTL several times over while an idle worker looks for abandoned jobs."""
    supervisor = start_workers(process_env, processes=2)
    try:
        job_id = hold(connection, "long", "long")
        wait_for(lambda: runs(connection, "long") == 1, timeout=30)
        wait_for(lambda: len(child_pids(supervisor)) == 2 and len(Worker.all(connection=connection)) == 2, timeout=20)
        with maintenance_passes(connection, PREDICT) as passes:
            # Each pass searches for abandoned jobs; three at 1 s intervals outlast the 2 s TTL, however slow we are.
            wait_for(lambda: passes() >= 3 or runs(connection, "long") > 1, timeout=60)
        assert runs(connection, "long") == 1, "not started a second time"
        connection.set(release_key("long"), 1)
        [answer] = wait_for(lambda: messages(connection, "long"), timeout=30)
        assert answer.job_id == job_id and answer.result == {"name": "long", "runs": 1}
    finally:
        stop(supervisor)


def test_a_job_whose_worker_dies_every_try_is_reported_failed_once_with_its_id(connection, process_env):
    supervisor = start_workers(process_env, processes=2)
    try:
        job_id = hold(connection, "k2", "kill-twice")
        kill_the_worker_of(connection, job_id, "k2", run=1)
        kill_the_worker_of(connection, job_id, "k2", run=2)
        [failed] = wait_for(lambda: messages(connection, "kill-twice"), timeout=30)
        assert (failed.kind, failed.final, failed.job_id) == ("failed", True, job_id)
        assert job_id in failed.text and "stopped" in failed.text
        queue = JobQueue(connection).queue(PREDICT)
        # RQ's clean-up runs the failure callback (our message) before it files the job as failed.
        wait_for(lambda: job_id in queue.failed_job_registry.get_job_ids(), timeout=10)
        assert job_id not in queue.started_job_registry.get_job_ids()
        assert runs(connection, "k2") == 2, "tried twice, not a third time"
        assert len(messages(connection, "kill-twice")) == 1
    finally:
        stop(supervisor)


class RestartableRedis:
    """A redis-server on a fixed port and data directory (AOF), stopped and started by the test."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = start_server(directory, self.port, detached=False)

    def restart(self) -> None:
        self.process.terminate()  # SIGTERM: redis-server writes its AOF and exits
        assert self.process.wait(timeout=10) == 0
        self.process = start_server(self.directory, self.port, detached=False)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    server = RestartableRedis(tmp_path / "redis")
    yield server
    server.stop()


def ask_iris(connection: redis.Redis, outbox_name: str) -> str:
    features = {"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 5.1, "petal_width": 1.8}
    request = PredictionRequest("iris", features, ReplyTo(outbox_name, "chat-1"))
    return JobQueue(connection).enqueue(PREDICT, "workers.predict.run", request.to_dict()).job_id


def test_workers_carry_on_after_a_redis_restart_and_queued_jobs_survive(own_redis, process_env):
    connection = redis.Redis.from_url(own_redis.url)
    supervisor = start_workers({**process_env, "REDIS_URL": own_redis.url}, processes=1)
    try:
        held = hold(connection, "r1", "restart")  # keeps the only worker busy ...
        wait_for(lambda: runs(connection, "r1") == 1, timeout=30)
        queued = [ask_iris(connection, "restart") for _ in range(3)]  # ... so these wait in the queue
        [worker] = child_pids(supervisor)
        own_redis.restart()
        connection = redis.Redis.from_url(own_redis.url)
        assert connection.llen(JobQueue(connection).queue(PREDICT).key) == 3, "the queued jobs survived"
        connection.set(release_key("r1"), 1)
        after = ask_iris(connection, "restart")
        wait_for(lambda: len(messages(connection, "restart")) >= 5, timeout=60)
        answers = messages(connection, "restart")
        assert [message.job_id for message in answers] == [held, *queued, after]
        assert answers[0].result == {"name": "r1", "runs": 1}, "the running job carried on through the restart"
        assert all(message.result["label"] == "virginica" for message in answers[1:])
        own_redis.restart()  # now while the worker waits for jobs
        connection = redis.Redis.from_url(own_redis.url)
        idle = ask_iris(connection, "restart")
        wait_for(lambda: len(messages(connection, "restart")) == 6, timeout=60)
        assert messages(connection, "restart")[-1].job_id == idle
        assert child_pids(supervisor) == [worker], "the same worker process carried on: no crash, no restart"
    finally:
        stop(supervisor)
        connection.close()


def test_a_telegram_bot_carries_on_after_a_redis_restart(own_redis, process_env, telegram_api, start_telegram_bot):
    """The bot keeps polling and delivering through a Redis restart: a command after it is answered, same process."""
    env = {**process_env, "REDIS_URL": own_redis.url}
    supervisor = start_workers(env, processes=1)
    try:
        bot, log = start_telegram_bot(REDIS_URL=own_redis.url)

        def verdicts() -> list[str]:
            return [text for message in telegram_api.chat(111) for text in message.edits if text.startswith("Iris:")]

        telegram_api.user_says("/iris 6.7 3.0 5.2 2.3")
        wait_for(lambda: len(verdicts()) == 1, timeout=30)
        own_redis.restart()
        telegram_api.user_says("/iris 5.1 3.5 1.4 0.2")
        wait_for(lambda: len(verdicts()) == 2, timeout=60)
        assert "setosa" in verdicts()[1]
        assert bot.poll() is None, log.read_text()
    finally:
        stop(supervisor)
