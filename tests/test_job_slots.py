"""A speech worker that holds several jobs at once (ASR_JOBS_AT_ONCE): job slots in one process.

Real Redis, the project's HeartbeatWorker and its job slots (workers/job_slots.py), the real
tiny.en model on espeak-ng English. Each job keeps its own progress, /cancel and failure; a
process SIGKILLed while it holds three jobs (two running, one taken and not yet registered)
loses none of them.
"""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from rq.job import Job
from rq.serializers import JSONSerializer

from bot.queue_watch import QueueWatch
from common import artifacts
from common.jobs import ReplyTo, TranscriptionRequest, cancel_key
from common.queues import PREDICT, TRANSCRIBE, JobQueue
from tests.conftest import REPO
from tests.helpers import wait_for
from tests.test_faults import FAST_LIVENESS, messages, stop
from tests.test_speech import install_runtime
from tests.test_taken_jobs import stopped_child
from workers.heartbeat import HeartbeatWorker, Liveness
from workers.job_slots import JobSlots

pytest_plugins = ["tests.speech_fixtures"]

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Machine learning models can turn speech into text.",
    "We test the system with a short recording every day.",
]
PAUSE_KEY = "test:pause-after-take"


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    root = tmp_path_factory.mktemp("slot-voices")
    found = []
    for number, text in enumerate(TEXTS):
        path = root / f"note-{number}.wav"
        subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "-w", str(path), text], check=True)
        found.append(path.read_bytes())
    return found


def upload(connection: redis.Redis, data: bytes, outbox_name: str, name: str, retries: int = 0) -> str:
    request = TranscriptionRequest(
        task="transcribe", reply=ReplyTo(outbox_name, name), source_id=f"upload:{name}", language="en",
        artifact=artifacts.store(connection, data, ttl_s=600), filename=f"{name}.wav",
    )  # fmt: skip
    return JobQueue(connection).enqueue(TRANSCRIBE, "workers.speech.job.run", request.to_dict(), retries=retries).job_id


def serve_with_slots(connection: redis.Redis, jobs_at_once: int) -> None:
    """`python -m workers --queues transcribe` with ASR_JOBS_AT_ONCE, in this process, until the queue is empty."""
    options = {"connection": connection, "serializer": JSONSerializer, "liveness": Liveness()}
    slots = JobSlots(jobs_at_once - 1, [TRANSCRIBE], **options)
    slots.start(burst=True)
    HeartbeatWorker([TRANSCRIBE], **options).work(burst=True)
    slots.join()


def test_jobs_held_at_once_keep_their_own_progress_cancel_and_failure(
    connection, english_model, voices, tmp_path
):  # fmt: skip
    """Five jobs, three slots: three answered with their own text and progress (windows of several jobs
    in one batch), one cancelled, one not audio (its user told why); each answered once, in its own chat."""
    speech = install_runtime(english_model, "ctranslate2", tmp_path / "models", batch_size=8)
    batches: list[list[tuple[int, int]]] = []
    assert speech.batcher is not None
    speech.batcher.observer = batches.append
    ids = {
        "fox": upload(connection, voices[0], "slots", "fox"),
        "noise": upload(connection, b"this is not audio" * 100, "slots", "noise"),
        "models": upload(connection, voices[1], "slots", "models"),
        "stop": upload(connection, voices[2], "slots", "stop"),
        "daily": upload(connection, voices[2], "slots", "daily"),
    }
    connection.set(cancel_key(ids["stop"]), 1)
    serve_with_slots(connection, jobs_at_once=3)
    said = messages(connection, "slots")
    finals = {m.reply.chat: m for m in said if m.final}
    assert set(finals) == set(ids), said
    assert all(finals[name].job_id == job_id for name, job_id in ids.items())
    texts = {m.reply.chat: m.text for m in said if m.kind == "text"}
    assert "fox" in texts["fox"].lower() and "dog" in texts["fox"].lower(), texts
    assert "speech" in texts["models"].lower() or "text" in texts["models"].lower(), texts
    assert "record" in texts["daily"].lower() or "system" in texts["daily"].lower(), texts
    assert texts["stop"].startswith("Stopped job"), texts
    assert finals["noise"].kind == "failed" and "Traceback" not in finals["noise"].text, finals["noise"]
    assert any(len({stream for stream, _ in rows}) >= 2 for rows in batches), f"jobs shared a batch: {batches}"
    progress = {m.reply.chat for m in said if m.kind == "progress" and "Recognising speech" in m.text}
    assert {"fox", "models", "daily"} <= progress


class _StallingHandler(http.server.BaseHTTPRequestHandler):
    """Holds each request until the test lets it through, then serves the voice note."""

    release = threading.Event()
    body = b""

    def do_GET(self) -> None:
        self.release.wait(timeout=120)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)
        except OSError:  # the worker that asked was killed
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stalling_server(voices: list[bytes]) -> Iterator[tuple[str, threading.Event]]:
    handler = type("Handler", (_StallingHandler,), {"release": threading.Event(), "body": voices[0]})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.release
    handler.release.set()
    server.shutdown()
    server.server_close()


def link(connection: redis.Redis, url: str, name: str) -> str:
    request = TranscriptionRequest(
        task="transcribe", reply=ReplyTo("held", name), source_id=f"url:{name}", url=f"{url}/{name}.wav", language="en"
    )
    return JobQueue(connection).enqueue(TRANSCRIBE, "workers.speech.job.run", request.to_dict(), retries=1).job_id


def status(connection: redis.Redis, job_id: str) -> object:
    return Job.fetch(job_id, connection=connection, serializer=JSONSerializer).get_status()  # a str Enum


@pytest.mark.slow
def test_a_worker_killed_while_it_holds_three_jobs_loses_none(connection, process_env, english_model, stalling_server):
    """Two jobs running (their downloads held by the server) and a third taken but not registered when the
    process is SIGKILLed: all three are retried by the restarted worker and answered."""
    url, release = stalling_server
    env = {**process_env, "ASR_MODEL": str(english_model), "ASR_DEVICE": "cpu", "ASR_JOBS_AT_ONCE": "3",
           "PRIVATE_VIDEO_HOSTS": "127.0.0.1"}  # fmt: skip
    command = [sys.executable, "-m", "workers", "--queues", TRANSCRIBE, *FAST_LIVENESS, "--test-pause-key", PAUSE_KEY]
    supervisor = subprocess.Popen(command, env=env, cwd=REPO)
    try:
        running = [link(connection, url, "one"), link(connection, url, "two")]
        wait_for(lambda: all(status(connection, job_id) == "started" for job_id in running), timeout=120)
        connection.set(PAUSE_KEY, 1)
        taken = link(connection, url, "three")
        paused = wait_for(lambda: stopped_child(supervisor), timeout=30)
        assert status(connection, taken) == "queued", "taken, not yet registered"
        assert connection.llen(JobQueue(connection).queue(TRANSCRIBE).key) == 0, "no longer in its queue"
        assert all(status(connection, job_id) == "started" for job_id in running), "held by the same process"
        os.kill(paused, signal.SIGKILL)
        killed_at = time.monotonic()
        release.set()
        asked = {*running, taken}

        def answered() -> set[str]:
            return {m.job_id for m in messages(connection, "held") if m.final and m.kind == "document"}

        wait_for(lambda: answered() >= asked, timeout=120)
        assert time.monotonic() - killed_at < 90
        for job_id in asked:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
            assert job.retries_left == 0, f"{job_id}: it was the retry that answered"
        # SIGTERM: the main worker stops its job slots too, and the process ends cleanly.
        supervisor.terminate()
        assert supervisor.wait(timeout=30) == 0
    finally:
        stop(supervisor)
        release.set()


def test_job_slots_stop_taking_jobs_when_told(connection):
    """JobSlots.stop: an idle slot's loop ends within seconds (it looks at its flag every second)."""
    options = {"connection": connection, "serializer": JSONSerializer, "liveness": Liveness()}
    slots = JobSlots(2, [TRANSCRIBE], **options)
    slots.start(burst=False)
    time.sleep(0.5)
    started = time.monotonic()
    slots.stop()
    slots.join()
    assert time.monotonic() - started < 5
    assert all(not thread.is_alive() for thread in slots.threads)


# `python -m workers --child`, told to stop (SIGTERM) at the instant the first of its workers has
# registered with RQ, before RQ installs its own stop handlers.
STOPPED_AT_REGISTRATION = """
import os, signal, sys
from workers import heartbeat
from workers.__main__ import main

register = heartbeat.HeartbeatWorker.register_birth
told = []

def register_then_get_told_to_stop(self):
    register(self)
    if not told:
        told.append(self.name)
        os.kill(os.getpid(), signal.SIGTERM)

heartbeat.HeartbeatWorker.register_birth = register_then_get_told_to_stop
sys.argv = ["workers", "--child", "--queues", "predict,transcribe"]
sys.exit(main())
"""


def test_a_worker_told_to_stop_as_it_registers_stops_cleanly_and_leaves_no_worker_behind(
    connection, process_env, english_model
):  # fmt: skip
    """RQ's default SIGTERM handling killed such a process still registered: the bots counted a worker that
    was gone for 105 s and told nobody that no worker served their queue."""
    env = {**process_env, "ASR_MODEL": str(english_model), "ASR_DEVICE": "cpu", "ASR_JOBS_AT_ONCE": "3"}
    done = subprocess.run([sys.executable, "-c", STOPPED_AT_REGISTRATION], env=env, cwd=REPO, timeout=120)
    assert done.returncode == 0
    watch = QueueWatch(connection, cache_s=0)
    assert watch.live_workers(PREDICT) == 0 and watch.live_workers(TRANSCRIBE) == 0
