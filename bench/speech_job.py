"""Whole /transcribe jobs as a chat user sees them: a real redis-server, a listening RQ SimpleWorker,
yt-dlp fetching from a local HTTP server, the outbox read until the job's last message."""

from __future__ import annotations

import functools
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rq import SimpleWorker
from rq.command import send_shutdown_command
from rq.serializers import JSONSerializer

from bench.harness import start_redis
from bench.machine import connect
from common import artifacts
from common.jobs import ReplyTo, TranscriptionRequest
from common.outbox import OutboxReader
from common.queues import TRANSCRIBE, JobQueue
from tests.speech_fixtures import _QuietHandler, _QuietServer
from workers.speech import runtime


@dataclass
class JobRun:
    wall_s: float
    timings: dict[str, float]  # the job's own fetch_s, detect_s, recognise_s
    files: dict[str, str] = field(default_factory=dict)  # ".txt", ".srt", ".vtt" -> content
    made_out: float = 1.0  # the job's own coverage: the heard speech its sure words cover


def run_jobs(
    media: Path, speech: runtime.SpeechRuntime, jobs: list[tuple[str, str]], task: str = "transcribe"
) -> list[JobRun]:
    """Each (source id, file name under ``media``) as one job, one after another, on one warm worker."""
    handler = functools.partial(_QuietHandler, directory=str(media))
    server = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # A fresh server each call: an earlier call's outbox (its last message) must not end this one's wait.
    process, url = start_redis(Path(tempfile.mkdtemp(prefix="redis-", dir=media)))
    try:
        connection = connect(url)
        runtime.install(speech)
        speech.models.current()  # loaded before the first job, as a worker process does
        base = f"http://127.0.0.1:{server.server_address[1]}"
        worker = SimpleWorker([TRANSCRIBE], connection=connection, serializer=JSONSerializer)
        measured: list[JobRun] = []
        failures: list[str] = []

        def one_job(reader: OutboxReader, source_id: str, name: str) -> JobRun:
            request = TranscriptionRequest(
                task=task, reply=ReplyTo("bench", "b"), source_id=source_id, url=f"{base}/{name}"
            )
            started = time.perf_counter()
            job = (
                JobQueue(connection)
                .queue(TRANSCRIBE)
                .enqueue("workers.speech.job.run", request.to_dict(), job_timeout=3600)
            )
            files: dict[str, str] = {}
            messages = []
            while not (messages and messages[-1].final):
                for _, message in reader.read(block_ms=100):
                    messages.append(message)
                    if message.kind == "document" and message.artifact and message.filename:
                        data = artifacts.load(connection, message.artifact) or b""
                        files[Path(message.filename).suffix] = data.decode()
            wall = time.perf_counter() - started
            result = job.latest_result(timeout=10)
            if result is None or not result.return_value:
                reason = result.exc_string if result is not None else messages[-1].text
                raise RuntimeError(f"the job failed: {reason}")
            timings = {k: float(v) for k, v in result.return_value.items() if k.endswith("_s")}
            return JobRun(wall, timings, files, float(result.return_value["coverage"]))

        def user() -> None:
            reader = OutboxReader(connection, "bench")
            time.sleep(1.0)
            try:
                measured.extend(one_job(reader, source_id, name) for source_id, name in jobs)
            except RuntimeError as exc:
                failures.append(str(exc))
            finally:
                send_shutdown_command(connection, worker.name)

        thread = threading.Thread(target=user)
        thread.start()
        worker.work(logging_level="WARNING")
        thread.join()
        if failures:
            raise RuntimeError(failures[0])
        return measured
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.shutdown()
