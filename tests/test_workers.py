"""Workers: a new model version is used without restart; failures reach the user; crashes are survived."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from common import outbox
from common.feature_store import LocalFeatureStore
from common.jobs import OutboxMessage, PredictionRequest, ReplyTo
from common.outbox import OutboxReader
from common.queues import PREDICT, JobQueue
from common.registry import LocalModelRegistry
from tests.conftest import REPO
from tests.helpers import live_group_members, wait_for
from training.iris import pipeline as iris
from workers.heartbeat import HeartbeatWorker, Liveness


def read_all(connection: redis.Redis, name: str, expected: int, timeout: float = 30.0):
    reader = OutboxReader(connection, name, consumer="test")
    messages = []

    def more():
        for entry_id, message in reader.read(block_ms=100):
            reader.ack(entry_id)
            messages.append(message)
        return len(messages) >= expected

    wait_for(more, timeout=timeout)
    return messages


def ask_iris(connection: redis.Redis, outbox_name: str, picture: bool = False) -> str:
    request = PredictionRequest(
        "iris",
        {"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 5.1, "petal_width": 1.8},
        ReplyTo(outbox_name, "chat-1"),
        picture=picture,
    )
    return JobQueue(connection).enqueue(PREDICT, "workers.predict.run", request.to_dict()).job_id


def test_running_worker_uses_a_newly_registered_version_without_restart(connection, model_dir, tmp_path, process_env):
    registry_copy = tmp_path / "models"
    shutil.copytree(model_dir, registry_copy)
    process_env["MODEL_DIR"] = str(registry_copy)
    worker = subprocess.Popen([sys.executable, "-m", "workers", "--queues", "predict"], env=process_env, cwd=REPO)
    try:
        ask_iris(connection, "t1")
        [first] = read_all(connection, "t1", 1)
        assert first.result["version"] == 1
        registry = LocalModelRegistry(registry_copy)
        options = iris.IrisOptions(neighbors=7)
        flowers = iris.feature_pipeline(LocalFeatureStore(tmp_path / "features"))
        iris.register(registry, *iris.train(flowers, options), options)
        ask_iris(connection, "t2")
        [second] = read_all(connection, "t2", 1)
        assert second.result["version"] == 2
        assert worker.poll() is None, "same worker process, no restart"
    finally:
        worker.terminate()
        worker.wait(timeout=15)


def test_prediction_posts_text_first_then_the_picture(connection, burst_worker):
    job_id = ask_iris(connection, "chat", picture=True)
    burst_worker()
    prediction, picture = read_all(connection, "chat", 2)
    assert (prediction.kind, prediction.final) == ("prediction", False)
    assert (picture.kind, picture.final, picture.job_id) == ("picture", True, job_id)
    assert connection.get(picture.artifact)[:4] == b"\x89PNG"
    assert 0 < connection.ttl(picture.artifact) <= 24 * 3600


def test_a_job_that_fails_every_try_tells_the_user_with_its_id(connection, burst_worker):
    """An unknown model raises in the worker: retried once, then one 'failed' message, kept in the failed registry."""
    request = PredictionRequest("unicorn", {}, ReplyTo("chat", "c"))
    job_id = JobQueue(connection).enqueue(PREDICT, "workers.predict.run", request.to_dict()).job_id
    burst_worker()
    [failed] = read_all(connection, "chat", 1)
    assert failed.kind == "failed" and failed.final
    assert job_id in failed.text
    queue = Queue(PREDICT, connection=connection, serializer=JSONSerializer)
    assert job_id in queue.failed_job_registry.get_job_ids()
    assert connection.xlen(outbox.stream_name("chat")) == 1, "one message although it ran twice"


def test_supervisor_replaces_a_killed_worker_process(process_env, connection):
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "workers", "--queues", "predict"],
        env=process_env,
        cwd=REPO,
    )
    try:

        def worker_pids():
            return [
                int(pid)
                for pid in subprocess.run(
                    ["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True
                ).stdout.split()
            ]

        [first] = wait_for(worker_pids)
        os.kill(first, signal.SIGKILL)
        second = wait_for(lambda: [pid for pid in worker_pids() if pid != first])
        assert second
        ask_iris(connection, "after-crash")
        assert read_all(connection, "after-crash", 1)[0].result["label"] == "virginica"
    finally:
        supervisor.terminate()
        supervisor.wait(timeout=15)


def test_a_corrupt_model_file_stops_the_worker_at_start_naming_the_path(process_env, model_dir, tmp_path):
    registry_copy = tmp_path / "models"
    shutil.copytree(model_dir, registry_copy)
    damaged = registry_copy / "titanic" / "1" / "model.joblib"
    damaged.write_bytes(damaged.read_bytes()[:200])
    done = subprocess.run(
        [sys.executable, "-m", "workers", "--queues", "predict"], env={**process_env, "MODEL_DIR": str(registry_copy)},
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2, "no restart loop for a configuration error"
    assert f"model file {damaged} is corrupt or unreadable" in done.stderr


def test_an_outbox_reader_survives_its_stream_being_lost(connection):
    """After a Redis restart without persistence the group is gone: the reader makes it again and reads on."""
    reader = OutboxReader(connection, "lost", consumer="bot")
    connection.delete(outbox.stream_name("lost"))
    assert reader.read(block_ms=10) == []
    outbox.post(connection, OutboxMessage(kind="text", reply=ReplyTo("lost", "c"), text="still here"))
    [(_, message)] = reader.read(block_ms=100)
    assert message.text == "still here"


def test_a_light_install_serves_every_queue_but_transcribe(monkeypatch):
    """Without the speech extra, `python -m workers` defaults to predict and render instead of crashing."""
    import workers.__main__ as entry

    assert entry.default_queues() == ("predict", "render", "transcribe"), "this test environment has the extra"
    import common.installs

    monkeypatch.setattr(common.installs.importlib.util, "find_spec", lambda name: None)
    assert entry.default_queues() == ("predict", "render")


def start_supervisor(env: dict[str, str], log: Path, processes: int = 1) -> subprocess.Popen[bytes]:
    """`python -m workers` in a process group of its own, so the processes it starts can be found after it exits."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "workers", "--queues", "predict", "--processes", str(processes)],
            env=env, cwd=REPO, stderr=out, start_new_session=True,
        )


def worker_pids(supervisor: subprocess.Popen[bytes]) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


def test_a_stopped_supervisor_leaves_no_worker_process(process_env, tmp_path):
    """SIGTERM: the supervisor exits 0, and no process of its group runs on: neither worker it started, nor another."""
    supervisor = start_supervisor(process_env, tmp_path / "workers.log", processes=2)
    try:
        started = wait_for(lambda: len(worker_pids(supervisor)) == 2 and worker_pids(supervisor), timeout=60)
        supervisor.terminate()
        assert supervisor.wait(timeout=30) == 0
        left = live_group_members(supervisor.pid)
        assert left == [], f"worker processes outlived their supervisor: {left} (it started {started})"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor.pid, signal.SIGKILL)


def test_a_supervisor_told_to_stop_while_replacing_a_worker_exits_without_starting_one(process_env, tmp_path):
    """SIGTERM during the back-off before a restart ends the supervisor; no new worker process is left behind."""
    log = tmp_path / "workers.log"
    supervisor = start_supervisor(process_env, log)
    try:
        [first] = wait_for(lambda: worker_pids(supervisor), timeout=60)
        os.kill(first, signal.SIGKILL)
        # The supervisor says when it has noticed and starts its back-off (0.5 s for a first failure).
        wait_for(lambda: "starting a new one in" in log.read_text(), timeout=30)
        supervisor.terminate()
        assert supervisor.wait(timeout=30) == 0
        assert live_group_members(supervisor.pid) == [], "a worker process was started during the back-off"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor.pid, signal.SIGKILL)


def test_a_worker_stops_at_once_when_its_pubsub_thread_waits_for_a_subscription(connection):
    """The race behind a minute-long stop: RQ's pubsub thread read the unsubscribe reply and looped (waiting
    60 s for a subscription) before the stop flag was set; redis-py 8's stop() joins it without a timeout."""
    worker = HeartbeatWorker([PREDICT], connection=connection, serializer=JSONSerializer, liveness=Liveness())
    worker.subscribe()
    wait_for(lambda: worker.pubsub.subscribed, timeout=10)
    worker.pubsub.unsubscribe()  # what RQ's unsubscribe sends first; the thread reads the reply ...
    wait_for(lambda: not worker.pubsub.subscribed, timeout=10)  # ... and waits for a subscription again
    started = time.monotonic()
    stopping = threading.Thread(target=worker.unsubscribe, daemon=True)
    stopping.start()
    stopping.join(timeout=10)
    assert not stopping.is_alive(), "unsubscribe still waiting for the pubsub thread after 10 s"
    assert time.monotonic() - started < 3
