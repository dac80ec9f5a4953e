"""The embedded redis-server: shared by the processes of one machine, stopped by the last one out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from common.embedded_redis import EmbeddedRedis
from tests.conftest import REPO
from tests.helpers import stop_process, wait_for

HOLD = (
    "import sys, time\nfrom pathlib import Path\nfrom common.connection import connect\n"
    "client = connect(None, Path(sys.argv[1]))\nclient.rpush('visitors', sys.argv[2])\n"
    "print(client.connection_pool.connection_kwargs['port'], flush=True)\n"
    "sys.stdin.readline()\n"
)


def test_two_processes_share_one_server_and_the_last_stops_it(tmp_path):
    first = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), "a"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    second = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), "b"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    port_a, port_b = first.stdout.readline().strip(), second.stdout.readline().strip()
    assert port_a == port_b, "one server for both"
    client = redis.Redis(port=int(port_a))
    assert sorted(client.lrange("visitors", 0, -1)) == [b"a", b"b"]
    first.communicate("\n", timeout=20)
    assert client.ping(), "still up while the second process runs"
    second.communicate("\n", timeout=20)
    time.sleep(0.2)
    try:
        client.ping()
        raise AssertionError("the server should have stopped with its last client")
    except redis.exceptions.ConnectionError:
        pass
    assert not (tmp_path / "redis" / "url").exists()


def test_data_survives_a_restart_of_the_embedded_server(tmp_path):
    server = EmbeddedRedis(tmp_path)
    client = redis.Redis.from_url(server.join())
    client.rpush("rq:queue:predict", "job-1")
    server.leave()
    again = EmbeddedRedis(tmp_path)
    client = redis.Redis.from_url(again.join())
    try:
        assert client.lrange("rq:queue:predict", 0, -1) == [b"job-1"], "AOF keeps queued jobs"
    finally:
        again.leave()


def test_a_stale_url_file_from_a_crash_is_replaced(tmp_path):
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis" / "url").write_text("redis://127.0.0.1:1/0")
    (tmp_path / "redis" / "clients").mkdir()
    (tmp_path / "redis" / "clients" / "999999").touch()
    server = EmbeddedRedis(tmp_path)
    url = server.join()
    try:
        assert url != "redis://127.0.0.1:1/0"
        assert redis.Redis.from_url(url).ping()
    finally:
        server.leave()


def _server_stopped(url: str) -> bool:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        return True
    return False


def test_a_console_bot_stopped_with_sigterm_stops_its_embedded_server(tmp_path: Path):
    """SIGTERM ends the console bot through its clean-up, so the server it started does not outlive it."""
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env["DATA_DIR"] = str(tmp_path)
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "console"],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as console:
        try:
            url_file = tmp_path / "redis" / "url"
            url = wait_for(lambda: url_file.exists() and url_file.read_text().strip(), timeout=30)
            # The console's outbox stream exists once it has connected and serves.
            wait_for(lambda: redis.Redis.from_url(url).keys("outbox:console-*"), timeout=30)
            console.send_signal(signal.SIGTERM)
            # Not communicate(): it closes stdin, and an end of input can win the race and end the console first.
            console.wait(timeout=20)
            errors = console.stderr.read() if console.stderr else b""
            assert console.returncode == 128 + signal.SIGTERM
            assert b"Traceback" not in errors
            assert wait_for(lambda: _server_stopped(url), timeout=20)
            assert not url_file.exists()
        finally:
            stop_process(console)


def _redis_url_command(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "common.redis_url"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_command_prints_the_url_of_the_running_embedded_server(tmp_path: Path):
    """`python -m common.redis_url` names the embedded server's random port, or REDIS_URL where it is set."""
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env["DATA_DIR"] = str(tmp_path)
    nothing = _redis_url_command(env)
    assert nothing.returncode == 1 and "no embedded redis-server runs under" in nothing.stderr
    assert not (tmp_path / "redis" / "url").exists(), "it starts nothing"
    server = EmbeddedRedis(tmp_path)
    url = server.join()
    try:
        printed = _redis_url_command(env)
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout.strip() == url
    finally:
        server.leave()
    given = _redis_url_command({**env, "REDIS_URL": "redis://redis.internal:6380/2"})
    assert given.stdout.strip() == "redis://redis.internal:6380/2"
