"""What the benchmarks share: a private redis-server, freshly trained models, worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import time  # noqa: E402

import redis  # noqa: E402

from common.embedded_redis import free_port, start_server  # noqa: E402
from common.feature_store import LocalFeatureStore  # noqa: E402
from common.jobs import PredictionRequest, ReplyTo  # noqa: E402
from common.outbox import OutboxReader  # noqa: E402
from common.queues import PREDICT, JobQueue  # noqa: E402
from common.registry import LocalModelRegistry  # noqa: E402
from common.settings import TITANIC_SHA256  # noqa: E402
from tests.helpers import stop_process  # noqa: E402
from training.iris import pipeline as iris  # noqa: E402
from training.titanic import pipeline as titanic  # noqa: E402

DEFAULT_TITANIC_CSV = str(REPO.parent / "shared" / "data" / "titanic.csv")


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    return start_server(directory, port, detached=False), f"redis://127.0.0.1:{port}/0"


def train_models(root: Path, titanic_csv: str) -> Path:
    """Iris and Titanic version 1 in a registry under ``root``, by the real pipelines."""
    registry = LocalModelRegistry(root / "models")
    store = LocalFeatureStore(root / "features")
    flowers = iris.feature_pipeline(store)
    iris.register(registry, *iris.train(flowers, iris.IrisOptions()), iris.IrisOptions())
    passengers = titanic.feature_pipeline(titanic_csv, TITANIC_SHA256, root, store)
    titanic.register(registry, *titanic.train(passengers, titanic.TitanicOptions()), titanic.TitanicOptions())
    return registry.root


def process_env(root: Path, redis_url: str, model_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "MODEL_DIR": str(model_dir),
        "DATA_DIR": str(root / "data"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def start_workers(env: dict[str, str], queues: str, processes: int = 1, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "workers", "--queues", queues, "--processes", str(processes), *extra],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    stop_process(process, timeout=30)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def drain_rate(connection: redis.Redis, env: dict[str, str], jobs: int, processes: int) -> float:
    """Jobs/s of ``processes`` worker processes draining a pre-filled predict queue (first to last answer)."""
    queue = JobQueue(connection)
    outbox = f"bench-drain-{processes}"
    reply = ReplyTo(outbox=outbox, chat="bench")
    features = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    for _ in range(jobs):
        request = PredictionRequest("iris", features, reply, picture=False)
        queue.enqueue(PREDICT, "workers.predict.run", request.to_dict())
    workers = start_workers(env, PREDICT, processes, "--burst")
    try:
        reader = OutboxReader(connection, outbox, consumer="bench")
        seen, first, last = 0, 0.0, 0.0
        deadline = time.monotonic() + 60
        while seen < jobs:
            entries = reader.read(block_ms=1000, count=500)  # redis-py's default socket timeout is 5 s
            if not entries:
                if time.monotonic() > deadline:
                    raise RuntimeError("the workers stopped answering")
                continue
            last = time.perf_counter()
            first = first or last
            seen += len(entries)
            for entry_id, _ in entries:
                reader.ack(entry_id)
        workers.wait(timeout=60)
    finally:
        stop(workers)  # also when the run failed: a burst worker whose Redis is gone retries forever
    return (seen - 1) / (last - first)
