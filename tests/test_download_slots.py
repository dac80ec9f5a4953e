"""The YouTube download slots: a Redis semaphore with leases, shared by every worker of one Redis.

Real redis-server, real RQ workers (``rq worker`` processes running SimpleWorker, or the project's
HeartbeatWorker in the test), real yt-dlp downloads from a local HTTP server that records which jobs' downloads are
in flight at once. The pacing is pointed at 127.0.0.1 (tests/youtube_jobs.py): YouTube itself cannot
be reached offline, and the slot code does not care which host it paces.
"""

from __future__ import annotations

import http.server
import io
import json
import math
import os
import struct
import subprocess
import sys
import threading
import time
import wave
from collections import Counter
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from rq import Queue, Worker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from common.errors import VideoRejected
from common.jobs import cancel_key
from common.outbox import stream_name
from tests.conftest import REPO
from tests.helpers import stop_process, wait_for
from tests.youtube_jobs import REPLY
from workers.heartbeat import HeartbeatWorker, Liveness
from workers.speech.download_slots import DownloadSlots

QUEUE = "slots-test"
SECONDS_OF_AUDIO = 1.0


def tone(seconds: float) -> bytes:
    """A WAV of a 440 Hz tone, 16 kHz mono."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 16000))) for i in range(int(16000 * seconds))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(16000)
        file.writeframes(frames)
    return out.getvalue()


class SlowMedia:
    """Serves /tone.wav?job=N slowly and records, per moment, the jobs whose yt-dlp requests are in flight.

    Only yt-dlp's requests count (its browser User-Agent): the worker's own redirect walk
    (urllib, before the slot) is not a download. Requests are told apart by job, so one job's
    metadata probe and download never count as two.
    """

    def __init__(self, body: bytes, send_s: float) -> None:
        self.body = body
        self.send_s = send_s
        self.active: Counter[str] = Counter()
        self.max_overlap = 0
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()
        media = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                job = parse_qs(urlsplit(self.path).query).get("job", ["?"])[0]
                counted = "Python-urllib" not in self.headers.get("User-Agent", "")
                hold = float(parse_qs(urlsplit(self.path).query).get("hold", ["0"])[0])
                if counted:
                    media.enter(job)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/wav")
                    self.send_header("Content-Length", str(len(media.body)))
                    self.end_headers()
                    chunks = [media.body[i : i + 2048] for i in range(0, len(media.body), 2048)]
                    pause = (hold or media.send_s) / len(chunks)
                    for index, chunk in enumerate(chunks):
                        if index:  # no pause after the last chunk: the client is done, so is the request
                            time.sleep(pause)
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # yt-dlp's metadata probe reads the headers only
                finally:
                    if counted:
                        media.leave(job)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tone.wav"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def enter(self, job: str) -> None:
        with self.lock:
            self.active[job] += 1
            self.requests[job] += 1
            self.max_overlap = max(self.max_overlap, sum(1 for count in self.active.values() if count))

    def leave(self, job: str) -> None:
        with self.lock:
            self.active[job] -= 1

    def in_flight(self) -> set[str]:
        with self.lock:
            return {job for job, count in self.active.items() if count}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def media() -> Iterator[SlowMedia]:
    server = SlowMedia(tone(SECONDS_OF_AUDIO), send_s=1.0)
    yield server
    server.close()


@pytest.fixture
def start_workers(redis_url: str, connection: redis.Redis) -> Iterator:
    """Start ``rq worker`` processes (SimpleWorker, JSON) on QUEUE; wait until all are registered."""
    started: list[subprocess.Popen[bytes]] = []

    def start(count: int) -> list[subprocess.Popen[bytes]]:
        before = len(Worker.all(connection=connection))
        for _ in range(count):
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "rq.cli", "worker", "--url", redis_url, "--worker-class",
                     "rq.worker.SimpleWorker", "--serializer", "rq.serializers.JSONSerializer",
                     "--logging_level", "WARNING", QUEUE],
                    cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            )  # fmt: skip
        wait_for(lambda: len(Worker.all(connection=connection)) >= before + count, timeout=30)
        return started[-count:]

    yield start
    for process in started:
        stop_process(process)


def enqueue(connection: redis.Redis, payload: dict) -> Job:
    queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer)
    return queue.enqueue("tests.youtube_jobs.fetch", payload, job_timeout=120)


def finished(jobs: list[Job]) -> bool:
    for job in jobs:
        job.refresh()
        assert job.get_status() != JobStatus.FAILED, job.latest_result().exc_string
    return all(job.get_status() == JobStatus.FINISHED for job in jobs)


def progress_texts(connection: redis.Redis) -> list[str]:
    entries = connection.xrange(stream_name(REPLY.outbox))
    return [json.loads(fields[b"data"])["text"] for _, fields in entries]


def test_a_slot_is_taken_up_to_the_limit_and_given_back(connection):
    slots = DownloadSlots(connection, limit=2, lease_s=30)
    assert slots.try_acquire("a") and slots.try_acquire("b")
    assert not slots.try_acquire("c"), "a third holder waits"
    assert slots.try_acquire("a"), "a holder asking again keeps its slot"
    assert slots.in_use() == 2
    slots.release("a")
    assert slots.try_acquire("c")
    assert slots.in_use() == 2


def test_an_expired_lease_frees_its_slot_and_a_renewed_one_does_not(connection):
    slots = DownloadSlots(connection, limit=1, lease_s=0.3)
    assert slots.try_acquire("dead")
    time.sleep(0.15)
    assert slots.renew("dead") and not slots.try_acquire("next")
    time.sleep(0.4)  # no renewal: the holder died
    assert slots.try_acquire("next"), "the lease ran out, so the slot is free"
    assert not slots.renew("dead"), "a holder whose lease ran out learns it lost the slot"


def test_hold_renews_its_lease_while_the_work_lasts_longer_than_the_lease(connection):
    slots = DownloadSlots(connection, limit=1, lease_s=0.3)
    with slots.hold(max_wait_s=1):
        for _ in range(4):
            time.sleep(0.25)
            assert not slots.try_acquire("other"), "renewed in the background, the slot stays taken"
    assert slots.in_use() == 0, "released on the way out"
    with pytest.raises(RuntimeError), slots.hold(max_wait_s=1):
        raise RuntimeError("download failed")
    assert slots.in_use() == 0, "released when the download fails too"


def test_a_wait_for_a_slot_is_bounded_and_reported(connection):
    slots = DownloadSlots(connection, limit=1, lease_s=30)
    assert slots.try_acquire("busy")
    waits: list[float] = []
    started = time.monotonic()
    with (
        pytest.raises(VideoRejected, match="busy for over") as refused,
        slots.hold(max_wait_s=0.3, poll_s=0.05, on_wait=waits.append),
    ):
        pass
    assert 0.3 <= time.monotonic() - started < 1.5
    assert "try again later" in str(refused.value)
    assert len(waits) >= 3 and waits == sorted(waits), "on_wait is called while waiting, with the time waited"


def test_cancel_stops_a_job_that_waits_for_a_slot(connection, media):
    """The job shows "Waiting for a download slot", and /cancel ends it while it waits."""
    DownloadSlots(connection, limit=1, lease_s=60).try_acquire("someone-else")
    job = enqueue(connection, {"url": f"{media.url}?job=w", "slots": 1})

    def cancel_when_waiting() -> None:
        wait_for(lambda: _stage(connection, job) == "waiting")
        connection.set(cancel_key(job.id), 1)

    helper = threading.Thread(target=cancel_when_waiting)
    helper.start()
    started = time.monotonic()
    # The project's worker: RQ's SimpleWorker now and then stalls a minute on its way out (pubsub).
    HeartbeatWorker([QUEUE], connection=connection, serializer=JSONSerializer, liveness=Liveness()).work(burst=True)
    helper.join()
    job.refresh()
    assert job.return_value() == {"cancelled": True}
    assert time.monotonic() - started < 10
    assert job.meta["progress"] == {"stage": "waiting", "percent": 0}
    assert "Waiting for a download slot…" in progress_texts(connection)
    assert not media.requests, "nothing was downloaded"


@pytest.mark.slow
@pytest.mark.parametrize(("slots", "workers", "jobs", "expected"), [(2, 3, 5, 2), (None, 3, 3, 3)])
def test_workers_never_download_more_at_once_than_the_slots(
    connection, media, start_workers, slots, workers, jobs, expected
):
    """Three worker processes, five jobs, two slots: at most two downloads at a time (exactly two are
    reached). Without pacing the same three workers download three at once: the server sees overlap."""
    start_workers(workers)
    queued = [enqueue(connection, {"url": f"{media.url}?job={i}", "slots": slots}) for i in range(jobs)]
    wait_for(lambda: finished(queued), timeout=60)
    assert all(job.return_value()["seconds"] == pytest.approx(SECONDS_OF_AUDIO, abs=0.05) for job in queued)
    assert media.max_overlap == expected
    assert DownloadSlots(connection, limit=2, lease_s=1).in_use() == 0, "every slot was given back"
    if slots:
        assert any(text.startswith("Waiting for a download slot") for text in progress_texts(connection))


@pytest.mark.slow
def test_a_killed_worker_frees_its_slot_when_its_lease_runs_out(connection, media, start_workers):
    """SIGKILL mid-download: the slot stays taken until the lease (1 s) runs out, then the job that
    waited on another worker gets it and finishes."""
    first, second = start_workers(2)
    stuck = enqueue(connection, {"url": f"{media.url}?job=stuck&hold=60", "slots": 1, "lease_s": 1.0})
    wait_for(lambda: "stuck" in media.in_flight() and stuck.get_status(refresh=True) == JobStatus.STARTED)
    stuck_worker = first if first.pid == _worker_pid(connection, stuck) else second
    waiting = enqueue(connection, {"url": f"{media.url}?job=next", "slots": 1, "lease_s": 1.0})
    wait_for(lambda: waiting.get_status(refresh=True) == JobStatus.STARTED)
    slots = DownloadSlots(connection, limit=1, lease_s=1)
    time.sleep(1.5)
    assert slots.in_use() == 1, "renewed past its 1 s lease while the download lasts"
    assert media.in_flight() == {"stuck"}, "the second job waits"
    stuck_worker.kill()
    killed = time.monotonic()
    wait_for(lambda: slots.in_use() == 0 or "next" in media.in_flight(), interval=0.02)
    assert time.monotonic() - killed <= 1.5, "freed within the lease"
    wait_for(lambda: finished([waiting]), timeout=30)
    assert waiting.return_value()["seconds"] == pytest.approx(SECONDS_OF_AUDIO, abs=0.05)


def _worker_pid(connection: redis.Redis, job: Job) -> int | None:
    job.refresh()
    return next(worker.pid for worker in Worker.all(connection=connection) if worker.name == job.worker_name)


def _stage(connection: redis.Redis, job: Job) -> str | None:
    progress = Job.fetch(job.id, connection=connection, serializer=JSONSerializer).meta.get("progress") or {}
    return progress.get("stage")


def test_the_slot_key_lives_no_longer_than_its_leases(connection):
    """A set whose holders all died does not stay in Redis for ever."""
    slots = DownloadSlots(connection, limit=2, lease_s=0.5)
    slots.try_acquire("gone")
    assert 0 < connection.pttl(slots.key) <= 1000
