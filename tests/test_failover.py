"""Redis Sentinel failover with real processes: a master, a replica, three sentinels, the console bot
and a worker, all connected through REDIS_SENTINELS.

Commands flow through the console; a held job keeps the only worker busy so that later commands wait
in the queue; WAIT makes sure the replica has every write; then the master is SIGKILLed. After the
sentinels promote the replica, the held job finishes, the queued commands are answered, and new
commands too, by the same worker and console processes. Sentinels take the master for down after
1 s here (down-after-milliseconds; 30 s by default).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from common.connection import client_for
from common.embedded_redis import find_redis_server, free_port, wait_until_ready
from common.jobs import ReplyTo
from common.queues import PREDICT, RENDER, JobQueue
from common.settings import sentinel_url
from tests.conftest import REPO
from tests.helpers import stop_process, wait_for
from tests.jobs_for_tests import release_key, started_key

pytestmark = pytest.mark.slow

MASTER = "mymaster"


@dataclass
class Cluster:
    directory: Path
    master_port: int = field(default_factory=free_port)
    replica_port: int = field(default_factory=free_port)
    sentinel_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def start(self) -> None:
        self._server("master", self.master_port)
        self._server("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        for index, port in enumerate(self.sentinel_ports):
            config = self.directory / f"sentinel-{index}.conf"  # a sentinel rewrites its own file
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\n"
                f"sentinel failover-timeout {MASTER} 5000\n"
            )
            self._spawn(f"sentinel-{index}", [str(config), "--sentinel"])
            wait_until_ready(f"redis://127.0.0.1:{port}/0", self.processes[f"sentinel-{index}"])

    def _server(self, name: str, port: int, *extra: str) -> None:
        options = f"--port {port} --bind 127.0.0.1 --appendonly no --dbfilename {name}.rdb".split()
        self._spawn(name, [*options, "--dir", str(self.directory), "--save", "", *extra])
        wait_until_ready(f"redis://127.0.0.1:{port}/0", self.processes[name])

    def _spawn(self, name: str, args: list[str]) -> None:
        command = [find_redis_server(), *args, "--logfile", str(self.directory / f"{name}.log")]
        self.processes[name] = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sentinel(self, index: int) -> redis.Redis:
        return redis.Redis(port=self.sentinel_ports[index], socket_timeout=2)

    def ready(self) -> bool:
        """Every sentinel knows the replica and the two other sentinels: a failover can be agreed on."""
        replica = redis.Redis(port=self.replica_port)
        if replica.info("replication").get("master_link_status") != "up":
            return False
        for index in range(3):
            client = self.sentinel(index)
            if len(client.sentinel_slaves(MASTER)) != 1 or len(client.sentinel_sentinels(MASTER)) != 2:
                return False
        return True

    def master_port_now(self) -> int:
        _host, port = self.sentinel(0).sentinel_get_master_addr_by_name(MASTER)
        return int(port)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path / "redis")
    running.directory.mkdir()
    try:
        running.start()
        wait_for(running.ready, timeout=30, interval=0.2)
        yield running
    finally:
        running.stop()


class Console:
    """``python -m bot console`` fed line by line; its stdout collected as it comes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "console"],
            env=env,
            cwd=REPO,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._collect, daemon=True)
        self.reader.start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def output(self) -> str:
        return "\n".join(self.lines)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.reader.join(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def master_found(client: redis.Redis) -> tuple[str, int] | None:
    """The master a Sentinel-managed client would connect to now; None while the sentinels name none."""
    try:
        return client.connection_pool.get_master_address()  # type: ignore[attr-defined]
    except redis.sentinel.MasterNotFoundError:
        return None


SETOSA = "/iris 5.1 3.5 1.4 0.2"
VIRGINICA = "/iris 6.7 3.0 5.2 2.3"
TITANIC = "/titanic pclass=1 sex=female age=29 sibsp=0 parch=0 fare=80 embarked=C"


def test_commands_are_answered_across_a_sentinel_failover_and_queued_jobs_are_kept(cluster, process_env):
    env = {key: value for key, value in process_env.items() if key != "REDIS_URL"}
    env["REDIS_SENTINELS"] = cluster.sentinels
    worker = subprocess.Popen([sys.executable, "-m", "workers", "--queues", f"{PREDICT},{RENDER}"], env=env, cwd=REPO)
    console = Console(env)
    master = redis.Redis(port=cluster.master_port)
    through_sentinels = client_for(sentinel_url(tuple(("127.0.0.1", p) for p in cluster.sentinel_ports), MASTER, None))
    try:
        console.send(SETOSA)
        wait_for(lambda: console.count("Iris: setosa"), timeout=60)
        # The only worker holds this job until released, so the next commands wait in line.
        reply = ReplyTo("failover-held", "chat-1").to_dict()
        JobQueue(master).enqueue(PREDICT, "tests.jobs_for_tests.hold", {"name": "f1", "reply": reply})
        wait_for(lambda: master.get(started_key("f1")), timeout=30)
        console.send(VIRGINICA)
        console.send(TITANIC)
        wait_for(lambda: console.count("Queued as job") + console.count("Working on it") >= 3, timeout=30)
        assert JobQueue(master).waiting(PREDICT) == 2
        assert master.execute_command("WAIT", 1, 10_000) == 1, "the replica has every write so far"

        cluster.processes["master"].send_signal(signal.SIGKILL)
        cluster.processes["master"].wait(timeout=10)
        wait_for(lambda: cluster.master_port_now() == cluster.replica_port, timeout=60, interval=0.2)
        # One sentinel names the new master before the others have taken it: a client asks them in turn.
        replica = ("127.0.0.1", cluster.replica_port)
        wait_for(lambda: master_found(through_sentinels) == replica, timeout=60, interval=0.2)

        assert JobQueue(through_sentinels).waiting(PREDICT) == 2, "the queued jobs survived the failover"
        through_sentinels.set(release_key("f1"), 1)
        wait_for(lambda: console.count("Iris: virginica") and console.count("Titanic: a 1st-class woman"), timeout=60)
        console.send("/iris 5.9 3.0 4.2 1.5")
        wait_for(lambda: console.count("Iris: versicolor"), timeout=60)
        wait_for(lambda: console.count("picture written to") == 4, timeout=60)
        assert worker.poll() is None, "the same worker process carried on"
        assert console.process.poll() is None, "the same console carried on"
        assert console.process.stdin is not None
        console.process.stdin.close()
        assert console.process.wait(timeout=60) == 0, console.output()
        assert through_sentinels.connection_pool.get_master_address() == ("127.0.0.1", cluster.replica_port)
        check = subprocess.run(
            [sys.executable, "-m", "bot", "--check"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert f"answers, master 127.0.0.1:{cluster.replica_port}" in check.stdout
    finally:
        console.close()
        stop_process(worker)
        through_sentinels.close()
