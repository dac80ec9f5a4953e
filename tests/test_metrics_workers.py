"""The worker supervisor's /metrics: its children's figures added up (prometheus-client's multiprocess
mode), a killed child's counts kept and its live gauges dropped, and no figures of an earlier run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from common.embedded_redis import free_port
from common.jobs import ReplyTo
from common.queues import PREDICT, JobQueue
from tests.conftest import REPO
from tests.helpers import stop_process, wait_for

pytestmark = pytest.mark.slow

IRIS = {"model": "iris", "features": {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
                                      "petal_width": 0.2}}


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and labels.items() <= dict(ls).items())


def reachable(port: int) -> bool:
    try:
        scrape(port)
    except OSError:
        return False
    return True


@pytest.fixture
def supervisor(process_env: dict[str, str], tmp_path: Path) -> Iterator:
    started: list[subprocess.Popen[bytes]] = []

    def start(port: int, directory: Path) -> subprocess.Popen[bytes]:
        env = {**process_env, "METRICS_LISTEN": f"127.0.0.1:{port}", "WORKER_METRICS_DIR": str(directory)}
        process = subprocess.Popen([sys.executable, "-m", "workers", "--queues", "predict,render", "--processes", "2"],
                                   env=env, cwd=REPO)
        started.append(process)
        wait_for(lambda: reachable(port), timeout=30)
        return process

    yield start
    for process in started:
        stop_process(process)


def live_children(directory: Path) -> set[int]:
    """Children that loaded their models: each keeps a live gauge file of its own."""
    return {int(path.stem.rsplit("_", 1)[1]) for path in directory.glob("gauge_livemostrecent_*.db")}


def run_jobs(connection: redis.Redis, count: int) -> None:
    reply = ReplyTo(outbox="console-metrics", chat="console").to_dict()
    for _ in range(count):
        JobQueue(connection).enqueue(PREDICT, "workers.predict.run", {**IRIS, "reply": reply})


def test_children_add_up_a_killed_child_keeps_its_counts_and_a_restart_starts_from_zero(
    supervisor, connection, tmp_path
):
    """Two children's jobs in one sum; after a SIGKILL the sum stands and the dead child's model gauge
    is gone; a new supervisor on the same directory shows nothing of the old run."""
    port, directory = free_port(), tmp_path / "multiproc"
    first = supervisor(port, directory)
    wait_for(lambda: len(live_children(directory)) == 2, timeout=60)
    run_jobs(connection, 40)
    done = {"queue": "predict", "kind": "iris", "outcome": "done"}
    wait_for(lambda: value(scrape(port), "mlchat_jobs_finished_total", **done) == 40, timeout=60)
    samples = scrape(port)
    assert value(samples, "mlchat_jobs_enqueued_total", queue="render", kind="picture") == 40
    assert value(samples, "mlchat_job_run_seconds_count", queue="predict", kind="iris") == 40
    assert value(samples, "mlchat_model_version", model="iris") == 1  # the newest of the two, not their sum
    worked = {int(path.stem.rsplit("_", 1)[1]) for path in directory.glob("counter_*.db")} & live_children(directory)
    assert worked, "no child counted a job"

    victim = sorted(worked)[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in live_children(directory), timeout=10)  # marked dead by the supervisor
    samples = scrape(port)
    assert value(samples, "mlchat_jobs_finished_total", **done) == 40  # its counts stay in the sum
    wait_for(lambda: len(live_children(directory)) == 2, timeout=60)  # its replacement loaded the models

    stop_process(first)
    assert list(directory.glob("*.db")), "the configured directory keeps its files until the next start"
    supervisor(port, directory)
    assert value(scrape(port), "mlchat_jobs_finished_total", **done) == 0  # cleaned at start
