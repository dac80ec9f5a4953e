"""The bot sees which queues a live worker serves, says so in the acknowledgement, and tells of long waits."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from bot.commands import Commands
from bot.console import ConsoleBot
from bot.queue_watch import QueueWatch
from common import starting_workers
from common.jobs import ReplyTo
from common.outbox import stream_name
from common.queues import PREDICT, TRANSCRIBE, JobQueue
from common.starting_workers import StartingWorker
from tests.conftest import REPO
from tests.helpers import stop_process, wait_for

REPLY = ReplyTo(outbox="console-test", chat="c1", user="u1")
IRIS = "/iris 5.1 3.5 1.4 0.2"
NO_WORKER = "no worker serves {} right now; your job waits in line and runs when one starts"


def test_the_ack_says_when_no_worker_serves_the_queue(connection: redis.Redis):
    commands = Commands(JobQueue(connection))
    predict = commands.handle(IRIS, REPLY).text
    assert predict.startswith("Queued as job") and NO_WORKER.format("predictions") in predict
    assert "python -m workers" not in predict, "chat users get no operator's hint"
    speech = commands.transcribe_upload("transcribe", REPLY, b"not really audio", "note.ogg").text
    assert speech.startswith("Queued as job") and NO_WORKER.format("speech") in speech


def test_the_console_ack_says_how_to_start_a_worker(connection: redis.Redis):
    commands = Commands(JobQueue(connection), watch=QueueWatch(connection, start_hint=True))
    assert commands.handle(IRIS, REPLY).text.endswith("(start one with `python -m workers`).")


def test_a_live_worker_on_the_queue_silences_the_note(connection: redis.Redis):
    """RQ's worker registry: a worker of the queue counts while registered, and not after it stops."""
    watch = QueueWatch(connection, cache_s=0)
    commands = Commands(JobQueue(connection), watch=watch)
    worker = SimpleWorker([PREDICT], connection=connection, serializer=JSONSerializer)
    worker.register_birth()
    try:
        assert watch.live_workers(PREDICT) == 1 and watch.live_workers(TRANSCRIBE) == 0
        served = commands.handle(IRIS, REPLY).text
        assert served.endswith("1st in line.") and "Note" not in served
        assert NO_WORKER.format("speech") in commands.transcribe_upload("translate", REPLY, b"x", "a.ogg").text
    finally:
        worker.register_death()
    assert NO_WORKER.format("predictions") in commands.handle(IRIS, REPLY).text


def test_a_worker_loading_its_models_is_announced_as_starting(connection: redis.Redis):
    watch = QueueWatch(connection, cache_s=0)
    commands = Commands(JobQueue(connection), watch=watch)
    starting = StartingWorker(connection, [TRANSCRIBE], ttl_s=1.0)
    starting.start()
    speech = commands.transcribe_upload("transcribe", REPLY, b"x", "a.ogg").text
    assert "A worker for speech is starting; your job runs once it is ready." in speech
    assert watch.unserved(TRANSCRIBE) == ""
    assert NO_WORKER.format("predictions") in commands.handle(IRIS, REPLY).text
    starting.stop(linger_s=0.1)
    assert wait_for(lambda: watch.unserved(TRANSCRIBE) == "no worker serves speech right now", timeout=10)


def test_an_announcement_of_a_dead_loader_lapses(connection: redis.Redis):
    """A process that died while loading stops counting once its announcement's TTL has passed."""
    watch = QueueWatch(connection, cache_s=0)
    starting = StartingWorker(connection, [PREDICT], ttl_s=0.5)
    starting._announce()  # announced once, never renewed: as if the process had died right after
    assert watch.unserved(PREDICT) == ""
    assert wait_for(lambda: watch.unserved(PREDICT), timeout=10) == "no worker serves predictions right now"


def _outbox_texts(connection: redis.Redis, outbox: str) -> list[dict[str, object]]:
    return [json.loads(fields[b"data"]) for _, fields in connection.xrange(stream_name(outbox))]


def test_a_job_waiting_past_its_patience_gets_one_notice(connection: redis.Redis):
    """Past the queue's patience, the user hears once, through their outbox, why the job still waits."""
    watch = QueueWatch(connection, patience_s={PREDICT: 0.3}, cache_s=0)
    commands = Commands(JobQueue(connection), watch=watch)
    job_id = commands.handle(IRIS, REPLY).job_id
    other = commands.handle(IRIS, ReplyTo(outbox="telegram", chat="42")).job_id
    assert watch.notify_long_waits(REPLY.outbox) == [], "not yet past its patience"
    assert wait_for(lambda: watch.notify_long_waits(REPLY.outbox), timeout=10) == [job_id]
    assert watch.notify_long_waits(REPLY.outbox) == [], "told once"
    (notice,) = _outbox_texts(connection, REPLY.outbox)
    assert notice["job_id"] == job_id and notice["kind"] == "text" and notice["final"] is False
    assert f"Job {job_id} has waited" in notice["text"] and "much longer than usual" in notice["text"]
    assert "no worker serves predictions right now" in notice["text"]
    assert f"/cancel {job_id}" in notice["text"]
    assert _outbox_texts(connection, "telegram") == [], "another platform's jobs are its own bot's to tell"
    assert watch.notify_long_waits("telegram") == [other]


def test_the_console_shows_the_long_wait_notice(connection: redis.Redis, tmp_path):
    """In a running console the notice arrives as a message of its own, while the job keeps its place."""

    class SlowStdin(io.StringIO):
        """One command, then the end of input only once the notice has been shown."""

        def __init__(self, shown: threading.Event) -> None:
            super().__init__()
            self.shown = shown

        def __iter__(self) -> Iterator[str]:
            yield IRIS + "\n"
            self.shown.wait(20)

    out = io.StringIO()
    shown = threading.Event()
    watch = QueueWatch(connection, patience_s={PREDICT: 0.2}, cache_s=0)
    bot = ConsoleBot(
        Commands(JobQueue(connection), watch=watch),
        connection,
        tmp_path,
        stdin=SlowStdin(shown),
        stdout=out,
        no_worker_grace_s=0.2,
        watch_interval_s=0.1,
    )
    started = time.monotonic()
    console = threading.Thread(target=bot.run)
    console.start()
    wait_for(lambda: "much longer than usual" in out.getvalue(), timeout=20)
    shown.set()
    console.join(timeout=20)
    assert time.monotonic() - started < 30
    assert "has waited" in out.getvalue() and "Cancelled it" in out.getvalue()


def test_a_starting_worker_process_is_known_before_it_serves_and_gone_after_it_stops(process_env, connection):
    """`python -m workers`: "starting" while it loads (the supervisor stands in for its child), then live, then gone."""
    watch = QueueWatch(connection, cache_s=0)
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "workers", "--queues", "predict"],
        env=process_env,
        cwd=REPO,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Before the child has loaded, the acknowledgement must not say that no worker is coming.
        wait_for(lambda: starting_workers.count(connection, PREDICT), timeout=30)
        assert "is starting" in watch.acknowledgement_note(PREDICT) or watch.live_workers(PREDICT)
        wait_for(lambda: watch.live_workers(PREDICT), timeout=120)
        assert watch.acknowledgement_note(PREDICT) == ""
    finally:
        stop_process(supervisor)
    # At once after a clean stop: the child deregisters itself, even when told to stop as it
    # registered (tests/test_job_slots.py) or when its supervisor is killed after the grace period.
    assert wait_for(lambda: watch.unserved(PREDICT), timeout=90) == "no worker serves predictions right now"
