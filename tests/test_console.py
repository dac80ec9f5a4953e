"""The console bot end to end: stdin -> Redis -> a real `python -m workers` -> outbox -> stdout."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from pathlib import Path

from bot.commands import Commands
from bot.console import ConsoleBot
from bot.queue_watch import QueueWatch
from common.queues import JobQueue
from tests.conftest import REPO
from tests.helpers import wait_for


def run_console(lines: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input=lines,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_piped_iris_and_titanic_are_answered_with_text_and_pictures(worker_process, process_env):
    """Piped commands get an ack with the queue place, the verdict, and a picture path; then the console exits."""
    done = run_console(
        "/iris 5.1 3.5 1.4 0.2\n/titanic pclass=1 sex=female age=29 sibsp=0 parch=0 fare=80 embarked=C\n",
        process_env,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("Queued as job") + out.count("Working on it") == 2
    assert "Iris: setosa" in out
    assert "Titanic: a 1st-class woman of 29 would have survived" in out
    pictures = [
        Path(line.split("picture written to ", 1)[1]) for line in out.splitlines() if "picture written to" in line
    ]
    assert len(pictures) == 2
    for picture in pictures:
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input_is_answered_and_nothing_is_queued(process_env, connection):
    """Without any worker, bad commands still get immediate answers and the queues stay empty."""
    done = run_console("/titanic pclass=4 sex=female age=29\n/iris 1 2 3\n/nope\nhello\n/help\n", process_env)
    assert done.returncode == 0, done.stderr
    assert "pclass (ticket class: 1, 2 or 3) must be between 1 and 3" in done.stdout
    assert "/iris takes 4 measurements" in done.stdout
    assert "I don't know the command /nope" in done.stdout
    assert "Commands start with a slash" in done.stdout
    assert "/titanic pclass=1 sex=female age=29" in done.stdout  # the help's example
    assert connection.keys("rq:queue:*") == []


def test_console_without_worker_gives_up_with_a_clear_message(connection, tmp_path):
    """A queued job that no worker serves ends piped input with what to do, not a hang; the job is dropped."""
    out = io.StringIO()
    bot = ConsoleBot(
        Commands(JobQueue(connection), watch=QueueWatch(connection, start_hint=True)),
        connection,
        tmp_path,
        stdin=io.StringIO("/iris 5.1 3.5 1.4 0.2\n"),
        stdout=out,
        wait_s=120,
        no_worker_grace_s=0.5,
    )
    started = time.monotonic()
    assert bot.run() == 1
    assert time.monotonic() - started < 30
    ack, gave_up = out.getvalue().splitlines()
    assert ack.endswith(
        "1st in line. Note: no worker serves predictions right now; your job waits in line and runs when one "
        "starts (start one with `python -m workers`)."
    )
    assert "No worker serves predictions right now" in gave_up and "Cancelled it" in gave_up
    assert JobQueue(connection).waiting("predict") == 0


def test_piped_console_with_no_worker_ends_within_seconds(process_env, connection):
    """`printf '/iris ...' | python -m bot console` with no worker: the ack says so, and it ends in seconds."""
    started = time.monotonic()
    done = run_console("/iris 5.1 3.5 1.4 0.2\n", process_env, timeout=60)
    assert time.monotonic() - started < 45, "well under the 120 s wait for a served job"
    assert done.returncode == 1, done.stderr
    assert "no worker serves predictions right now; your job waits in line and runs when one starts" in done.stdout
    assert "start one with `python -m workers`" in done.stdout
    assert "Cancelled it" in done.stdout
    assert JobQueue(connection).waiting("predict") == 0


def test_console_delivers_through_an_in_process_worker(connection, burst_worker, tmp_path):
    """The ack comes first, then the verdict and the picture written under the picture folder."""
    out = io.StringIO()
    bot = ConsoleBot(
        Commands(JobQueue(connection)),
        connection,
        tmp_path,
        stdin=io.StringIO("/iris 6.7 3.0 5.2 2.3\n"),
        stdout=out,
        wait_s=20,
    )
    codes: list[int] = []
    console = threading.Thread(target=lambda: codes.append(bot.run()))
    console.start()
    wait_for(lambda: JobQueue(connection).waiting("predict"))
    burst_worker()  # RQ's worker installs signal handlers: it runs in the main thread
    console.join(timeout=20)
    assert codes == [0]
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Queued as job")
    assert "Iris: virginica" in lines[1]
    assert (tmp_path / lines[2].rsplit("/", 1)[1]).exists()


class TerminalInput(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_an_interactive_console_names_the_redis_server_at_start(connection, tmp_path):
    """The embedded server listens on a port chosen at start: the console says which, for `rq info --url`."""
    out = io.StringIO()
    bot = ConsoleBot(
        Commands(JobQueue(connection)),
        connection,
        tmp_path,
        stdin=TerminalInput("/help\n"),
        stdout=out,
        redis_url="redis://127.0.0.1:6399/0",
    )
    assert bot.run() == 0
    assert out.getvalue().splitlines()[0] == (
        "Type a command (/help lists them); Ctrl-D quits. Jobs go through Redis at redis://127.0.0.1:6399/0."
    )
