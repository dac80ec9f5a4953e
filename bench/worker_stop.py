"""How fast `python -m workers` stops on SIGTERM: idle, just after serving jobs, and in the middle of one.

A process manager or container runtime sends SIGKILL about 10 s after SIGTERM, so a stop must fit.
A busy worker finishes its job first (RQ's warm shutdown): that case is timed from the job's end.

    python bench/worker_stop.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import tempfile
import time
from pathlib import Path

import redis
from harness import process_env, start_redis, start_workers, stop
from rq.worker import Worker

from common.feature_store import LocalFeatureStore
from common.jobs import PredictionRequest, ReplyTo
from common.queues import PREDICT, RENDER, JobQueue
from common.registry import LocalModelRegistry
from tests.helpers import wait_for
from tests.jobs_for_tests import release_key, started_key
from training.iris import pipeline as iris

QUEUES = f"{PREDICT},{RENDER}"  # what `python -m workers` and scripts/start.sh's first worker serve


def ready(connection: redis.Redis, processes: int) -> bool:
    return len(Worker.all(connection=connection)) == processes


def terminate_and_time(supervisor, since: float | None = None) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    supervisor.send_signal(signal.SIGTERM)
    supervisor.wait(timeout=60)
    return time.monotonic() - (since or started)


def idle(connection: redis.Redis, env: dict[str, str]) -> float:
    supervisor = start_workers(env, QUEUES, 2)
    try:
        wait_for(lambda: ready(connection, 2), timeout=120)
        time.sleep(1)
        return terminate_and_time(supervisor)
    finally:
        stop(supervisor)


def after_jobs(connection: redis.Redis, env: dict[str, str], jobs: int = 40) -> float:
    supervisor = start_workers(env, QUEUES, 2)
    try:
        wait_for(lambda: ready(connection, 2), timeout=120)
        features = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
        queue = JobQueue(connection)
        ids = [
            queue.enqueue(PREDICT, "workers.predict.run",
                          PredictionRequest("iris", features, ReplyTo("bench-stop", "c")).to_dict()).job_id
            for _ in range(jobs)
        ]  # fmt: skip
        registry = queue.queue(PREDICT).finished_job_registry
        wait_for(lambda: len(set(registry.get_job_ids()) & set(ids)) == jobs, timeout=120)
        return terminate_and_time(supervisor)
    finally:
        stop(supervisor)


def mid_job(connection: redis.Redis, env: dict[str, str], name: str) -> float:
    """SIGTERM while a job runs, the job let go 2 s later: the time from its end to the exit."""
    supervisor = start_workers(env, QUEUES, 2)
    try:
        wait_for(lambda: ready(connection, 2), timeout=120)
        payload = {"name": name, "reply": ReplyTo("bench-stop", "c").to_dict()}
        JobQueue(connection).enqueue(PREDICT, "tests.jobs_for_tests.hold", payload)
        wait_for(lambda: connection.exists(started_key(name)), timeout=60)
        supervisor.send_signal(signal.SIGTERM)
        time.sleep(2)
        assert supervisor.poll() is None, "a busy worker finishes its job first"
        released = time.monotonic()
        connection.set(release_key(name), 1)
        supervisor.wait(timeout=60)
        return time.monotonic() - released
    finally:
        stop(supervisor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        server, url = start_redis(root / "redis")
        try:
            registry = LocalModelRegistry(root / "models")
            flowers = iris.feature_pipeline(LocalFeatureStore(root / "features"))
            iris.register(registry, *iris.train(flowers, iris.IrisOptions()), iris.IrisOptions())
            env = process_env(root, url, registry.root)
            connection = redis.Redis.from_url(url)
            rows = {
                "idle": [idle(connection, env) for _ in range(args.rounds)],
                "just after 40 predictions": [after_jobs(connection, env) for _ in range(args.rounds)],
                "mid-job, from the job's end": [mid_job(connection, env, f"b{i}") for i in range(args.rounds)],
            }
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"`python -m workers --queues {QUEUES} --processes 2`, SIGTERM to the supervisor, {args.rounds} rounds:")
    for label, times in rows.items():
        print(f"  {label:28s} median {statistics.median(times):5.2f} s, max {max(times):5.2f} s")


if __name__ == "__main__":
    main()
