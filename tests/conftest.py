"""Fixtures: a real redis-server on a free port, trained models, real RQ workers.

Redis is flushed around each test, as RQ's own suite does. Models are trained once per session
(about two seconds) into a temporary MODEL_DIR.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq.serializers import JSONSerializer

from common.embedded_redis import free_port, start_server
from common.feature_store import LocalFeatureStore
from common.queues import ALL_QUEUES
from common.registry import LocalModelRegistry
from common.settings import TITANIC_SHA256
from models.cache import ModelCache
from tests.helpers import stop_process
from workers import context
from workers.heartbeat import HeartbeatWorker, Liveness

# The emulators and bot processes, as fixtures every test module can take.
pytest_plugins = ["tests.chat_fixtures"]

REPO = Path(__file__).resolve().parents[1]
TITANIC_CSV = Path(os.environ.get("TITANIC_CSV", REPO.parent / "shared" / "data" / "titanic.csv"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    process = start_server(tmp_path_factory.mktemp("redis"), port, detached=False)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    yield redis_server
    client.flushall()
    client.close()


@pytest.fixture
def connection(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def titanic_csv() -> Path:
    assert TITANIC_CSV.exists(), f"the Titanic CSV is expected at {TITANIC_CSV} (../shared/data/titanic.csv)"
    return TITANIC_CSV


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, titanic_csv: Path) -> Path:
    """A registry with Iris and Titanic version 1, trained by the real pipelines."""
    from training.iris import pipeline as iris
    from training.titanic import pipeline as titanic

    root = tmp_path_factory.mktemp("session")
    registry = LocalModelRegistry(root / "models")
    store = LocalFeatureStore(root / "data" / "features")
    flowers = iris.feature_pipeline(store)
    iris.register(registry, *iris.train(flowers, iris.IrisOptions()), iris.IrisOptions())
    passengers = titanic.feature_pipeline(str(titanic_csv), TITANIC_SHA256, root / "data", store)
    titanic.register(registry, *titanic.train(passengers, titanic.TitanicOptions()), titanic.TitanicOptions())
    return registry.root


@pytest.fixture
def process_env(redis_url: str, model_dir: Path, tmp_path: Path, titanic_csv: Path) -> dict[str, str]:
    """Environment for the project's processes started by a test."""
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "MODEL_DIR": str(model_dir),
        "DATA_DIR": str(tmp_path / "data"),
        "TITANIC_URL": str(titanic_csv),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def burst_worker(connection: redis.Redis, model_dir: Path):
    """Run the project's worker (RQ's SimpleWorker with a heartbeat) in this process until the queues are empty.

    Not RQ's plain SimpleWorker: its stop waits up to 60 s for its pubsub thread now and then
    (workers/heartbeat.py: unsubscribe).
    """
    context.install(context.WorkerContext(models=ModelCache(LocalModelRegistry(model_dir))))

    def work(queues: tuple[str, ...] = ALL_QUEUES) -> None:
        HeartbeatWorker(list(queues), connection=connection, serializer=JSONSerializer, liveness=Liveness()).work(
            burst=True
        )

    return work


@pytest.fixture
def worker_process(process_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m workers` as a real subprocess."""
    process = subprocess.Popen([sys.executable, "-m", "workers"], env=process_env, cwd=REPO)
    yield process
    stop_process(process)
