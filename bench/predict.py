"""Prediction latency and throughput through the real queue, side by side with in-process calls.

    python bench/predict.py [--requests 300] [--jobs 3000]

Starts its own redis-server on a free port, trains the models into a temporary registry, and
starts `python -m workers` processes: one on `predict`, one on `render`. Prints:
- p50/p95 latency, command text -> parse -> Redis -> worker -> outbox -> reply, one request at a time;
- the same for the model called in-process, and the ratio;
- jobs/s of one worker process on a pre-filled queue;
- the picture's rendering time, measured apart (it runs on its own queue, off the text path).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.commands import Commands  # noqa: E402
from bot.parsing import parse  # noqa: E402
from common.embedded_redis import free_port, start_server  # noqa: E402
from common.feature_store import LocalFeatureStore  # noqa: E402
from common.jobs import PredictionRequest, PredictionResult, ReplyTo  # noqa: E402
from common.outbox import OutboxReader  # noqa: E402
from common.queues import PREDICT, JobQueue  # noqa: E402
from common.registry import LocalModelRegistry  # noqa: E402
from common.settings import TITANIC_SHA256  # noqa: E402
from training.iris import pipeline as iris  # noqa: E402
from training.titanic import pipeline as titanic  # noqa: E402
from workers import pictures  # noqa: E402
from workers.inference import PREDICTORS  # noqa: E402
from workers.models import ModelCache  # noqa: E402

COMMANDS = {
    "iris": "/iris 5.1 3.5 1.4 0.2",
    "titanic": "/titanic pclass=1 sex=female age=29 sibsp=0 parch=0 fare=80 embarked=C",
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def train_models(root: Path, titanic_csv: str) -> Path:
    registry = LocalModelRegistry(root / "models")
    store = LocalFeatureStore(root / "features")
    flowers = iris.feature_pipeline(store)
    iris.register(registry, *iris.train(flowers, iris.IrisOptions()), iris.IrisOptions())
    passengers = titanic.feature_pipeline(titanic_csv, TITANIC_SHA256, root, store)
    titanic.register(registry, *titanic.train(passengers, titanic.TitanicOptions()), titanic.TitanicOptions())
    return registry.root


def end_to_end(connection: redis.Redis, model: str, requests: int) -> list[float]:
    """Seconds from the command text to its text answer read from the outbox."""
    commands = Commands(JobQueue(connection))
    reader = OutboxReader(connection, f"bench-{model}", consumer="bench")
    reply = ReplyTo(outbox=f"bench-{model}", chat="bench")
    latencies = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = commands.handle(COMMANDS[model], reply)
        assert answer.job_id, answer.text
        while True:
            entries = reader.read(block_ms=1000, count=10)
            for entry_id, _message in entries:
                reader.ack(entry_id)
            if any(message.kind == "prediction" for _, message in entries):
                break
        latencies.append(time.perf_counter() - started)
    return latencies


def in_process(cache: ModelCache, model: str, requests: int) -> list[float]:
    features = parse(COMMANDS[model]).features  # type: ignore[union-attr]
    latencies = []
    for _ in range(requests):
        started = time.perf_counter()
        version, bundle = cache.get(model)
        PREDICTORS[model](bundle, version, [features])
        latencies.append(time.perf_counter() - started)
    return latencies


def throughput(connection: redis.Redis, env: dict[str, str], jobs: int) -> float:
    """Jobs/s of one worker process draining a pre-filled predict queue (first to last answer)."""
    queue = JobQueue(connection)
    reply = ReplyTo(outbox="bench-throughput", chat="bench").to_dict()
    features = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    for _ in range(jobs):
        request = PredictionRequest("iris", features, reply, picture=False)
        queue.enqueue(PREDICT, "workers.predict.run", request.to_dict())
    worker = subprocess.Popen([sys.executable, "-m", "workers", "--queues", PREDICT, "--burst"], env=env, cwd=REPO)
    reader = OutboxReader(connection, "bench-throughput", consumer="bench")
    seen, first, last = 0, 0.0, 0.0
    while seen < jobs:
        entries = reader.read(block_ms=5000, count=500)
        if not entries:
            raise RuntimeError("the worker stopped answering")
        now = time.perf_counter()
        first = first or now
        last = now
        seen += len(entries)
        for entry_id, _ in entries:
            reader.ack(entry_id)
    worker.wait(timeout=60)
    return (seen - 1) / (last - first)


def render_times(cache: ModelCache, model: str, count: int) -> list[float]:
    version, bundle = cache.get(model)
    features = parse(COMMANDS[model]).features  # type: ignore[union-attr]
    result: PredictionResult = PREDICTORS[model](bundle, version, [features])[0]
    times = []
    for _ in range(count):
        started = time.perf_counter()
        pictures.render(result, bundle)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per model")
    parser.add_argument("--jobs", type=int, default=3000, help="jobs for the throughput run")
    parser.add_argument("--titanic-csv", default=str(REPO.parent / "shared" / "data" / "titanic.csv"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        port = free_port()
        server = start_server(root / "redis", port, detached=False)
        url = f"redis://127.0.0.1:{port}/0"
        model_dir = train_models(root, args.titanic_csv)
        env = {**os.environ, "REDIS_URL": url, "MODEL_DIR": str(model_dir), "DATA_DIR": str(root / "data")}
        workers = [
            subprocess.Popen([sys.executable, "-m", "workers", "--queues", queue], env=env, cwd=REPO)
            for queue in ("predict", "render")
        ]
        try:
            connection = redis.Redis.from_url(url)
            cache = ModelCache(LocalModelRegistry(model_dir))
            end_to_end(connection, "iris", 20)  # warm-up: the worker loads its models first
            print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, redis-server on loopback TCP")
            print(
                f"{'model':8} {'e2e p50':>9} {'e2e p95':>9} {'in-proc p50':>12} {'in-proc p95':>12} {'ratio p50':>10}"
            )
            for model in COMMANDS:
                queued = end_to_end(connection, model, args.requests)
                direct = in_process(cache, model, args.requests)
                print(
                    f"{model:8} {percentile(queued, 0.5) * 1e3:7.2f}ms {percentile(queued, 0.95) * 1e3:7.2f}ms "
                    f"{percentile(direct, 0.5) * 1e3:10.3f}ms {percentile(direct, 0.95) * 1e3:10.3f}ms "
                    f"{statistics.median(queued) / statistics.median(direct):9.1f}x"
                )
            for worker in workers:
                worker.terminate()
                worker.wait(timeout=30)
            workers = []
            rate = throughput(connection, env, args.jobs)
            print(f"throughput: {rate:.0f} jobs/s for one worker process ({args.jobs} iris jobs, text answers only)")
            for model in COMMANDS:
                times = render_times(cache, model, 20)
                print(
                    f"picture {model}: p50 {percentile(times, 0.5) * 1e3:.0f} ms, "
                    f"p95 {percentile(times, 0.95) * 1e3:.0f} ms (render queue, off the text path)"
                )
        finally:
            for worker in workers:
                worker.terminate()
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
