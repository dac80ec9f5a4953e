"""The console front end: one command per line on stdin, answers on stdout.

Piped input ends once every queued job has sent its last message, so
``printf '/iris 5.1 3.5 1.4 0.2\\n' | python -m bot console`` works in a script. A job that no live
worker serves ends the wait within seconds, with a message saying so (and the job is cancelled:
nobody reads this console's answers after it exits).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TextIO

import redis
from rq.job import JobStatus

from bot.commands import Commands
from bot.queue_watch import START_HINT
from bot.replies import message_text
from common import artifacts
from common.jobs import OutboxMessage, ReplyTo
from common.outbox import OutboxReader, stream_name

logger = logging.getLogger(__name__)


class ConsoleBot:
    def __init__(
        self,
        commands: Commands,
        connection: redis.Redis,
        files_dir: Path,
        *,
        stdin: TextIO = sys.stdin,
        stdout: TextIO = sys.stdout,
        wait_s: float = 120.0,
        no_worker_grace_s: float = 5.0,
        watch_interval_s: float = 5.0,
        redis_url: str = "",
    ) -> None:
        self.commands = commands
        self.connection = connection
        self.files_dir = files_dir
        self.stdin = stdin
        self.stdout = stdout
        self.wait_s = wait_s
        # A worker that is starting registers within seconds: only then is a job taken as unserved.
        self.no_worker_grace_s = no_worker_grace_s
        self.redis_url = redis_url  # shown at start, for `rq info --url`
        self.watch_interval_s = watch_interval_s
        # Each console is its own outbox, so two consoles never read each other's answers.
        self.outbox = f"console-{uuid.uuid4().hex[:8]}"
        self._pending: set[str] = set()
        self._finished: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def run(self) -> int:
        reader = OutboxReader(self.connection, self.outbox, consumer="console")
        delivery = threading.Thread(target=self._deliver, args=(reader,), name="console-outbox", daemon=True)
        delivery.start()
        interactive = self.stdin.isatty()
        # Tells of jobs that wait far too long.
        self.commands.watch.watch(self.outbox, self._stop, self.watch_interval_s)
        try:
            self._read_commands(interactive)
            return self._wait_for_pending()
        finally:
            self._stop.set()
            delivery.join(timeout=2)
            self.connection.delete(stream_name(self.outbox))

    def _read_commands(self, interactive: bool) -> None:
        if interactive:
            where = f" Jobs go through Redis at {self.redis_url}." if self.redis_url else ""
            self._print(f"Type a command (/help lists them); Ctrl-D quits.{where}")
        reply = ReplyTo(outbox=self.outbox, chat="console", user="console")
        for line in self.stdin:
            if not line.strip():
                continue
            answer = self.commands.handle(line, reply)
            if answer.job_id:
                with self._lock:
                    if answer.job_id not in self._finished:
                        self._pending.add(answer.job_id)
            self._print(answer.text)

    def _wait_for_pending(self) -> int:
        deadline = time.monotonic() + self.wait_s
        unserved_since: float | None = None
        while time.monotonic() < deadline:
            with self._lock:
                pending = sorted(self._pending)
            if not pending:
                return 0
            unserved = self._unserved(pending)
            if not unserved:
                unserved_since = None
            elif unserved_since is None:
                unserved_since = time.monotonic()
            elif time.monotonic() - unserved_since >= self.no_worker_grace_s:
                return self._give_up(unserved)
            time.sleep(0.05)
        self._print(
            f"Gave up after {self.wait_s:.0f} s waiting for {len(self._pending)} job(s): "
            "is a worker running (`python -m workers`)?"
        )
        return 1

    def _unserved(self, pending: list[str]) -> dict[str, str]:
        """Job id -> why it waits, when every pending job is still in line on a queue no worker serves."""
        unserved = {}
        for job_id in pending:
            job = self.commands.queue.fetch(job_id)
            if job is None or job.get_status() != JobStatus.QUEUED:
                return {}  # running, finishing or gone: its last message is on the way
            reason = self.commands.watch.unserved(job.origin)
            if not reason:
                return {}
            unserved[job_id] = reason
        return unserved

    def _give_up(self, unserved: dict[str, str]) -> int:
        for job_id, reason in unserved.items():
            job = self.commands.queue.fetch(job_id)
            if job is not None and job.get_status() == JobStatus.QUEUED:
                job.cancel()
            self._print(
                f"[{job_id}] {reason[0].upper()}{reason[1:]}, so this job would wait in line until one starts "
                f"({START_HINT}). Cancelled it: this console stops here and would not see its answer."
            )
        return 1

    def _deliver(self, reader: OutboxReader) -> None:
        while not self._stop.is_set():
            for entry_id, message in reader.read(block_ms=200):
                self._show(message)
                reader.ack(entry_id)
                if message.final:
                    with self._lock:
                        self._pending.discard(message.job_id)
                        self._finished.add(message.job_id)

    def _show(self, message: OutboxMessage) -> None:
        text = message_text(message)
        prefix = f"[{message.job_id}] " if message.job_id else ""
        if message.artifact and message.kind in {"picture", "document"}:
            kind = "picture" if message.kind == "picture" else "file"
            data = artifacts.load(self.connection, message.artifact)
            if data is None:
                self._print(f"{prefix}the {kind} expired before it could be shown")
                return
            self.files_dir.mkdir(parents=True, exist_ok=True)
            # The name comes from a worker: keep only its last part, so it cannot leave the folder.
            path = self.files_dir / Path(message.filename or f"{message.job_id}.{message.kind}").name
            path.write_bytes(data)
            # A prediction's text came before its picture; other files carry their caption.
            caption = f"{text}\n" if text and not message.result else ""
            self._print(f"{prefix}{caption}{kind} written to {path}")
            return
        self._print(prefix + text)

    def _print(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)
