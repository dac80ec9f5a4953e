"""Prediction latency and throughput through the real queue, side by side with in-process calls.

    python bench/predict.py [--requests 300] [--jobs 3000] [--rounds 3]

Starts its own redis-server on a free port, trains the models into a temporary registry, and
starts `python -m workers` processes: one on `predict`, one on `render`. Prints:
- p50/p95 latency, command text -> parse -> Redis -> worker -> outbox -> reply, one request at a time;
- the same for the model called in-process, and the ratio;
- jobs/s of one worker process on a pre-filled queue, with METRICS_LISTEN off and on (in turns);
- the picture's rendering time, measured apart (it runs on its own queue, off the text path).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis
import sklearn
from harness import (
    DEFAULT_TITANIC_CSV,
    drain_rate,
    percentile,
    process_env,
    start_redis,
    start_workers,
    stop,
    train_models,
)

from bot.commands import Commands
from bot.parsing import parse
from common.embedded_redis import free_port
from common.jobs import PredictionResult, ReplyTo
from common.outbox import OutboxReader
from common.queues import JobQueue
from common.registry import LocalModelRegistry
from models import MODELS
from models.cache import ModelCache
from workers import pictures

COMMANDS = {
    "iris": "/iris 5.1 3.5 1.4 0.2",
    "titanic": "/titanic pclass=1 sex=female age=29 sibsp=0 parch=0 fare=80 embarked=C",
}


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
        MODELS[model].predict(bundle, version, [features])
        latencies.append(time.perf_counter() - started)
    return latencies


def render_times(cache: ModelCache, model: str, count: int) -> list[float]:
    version, bundle = cache.get(model)
    features = parse(COMMANDS[model]).features  # type: ignore[union-attr]
    result: PredictionResult = MODELS[model].predict(bundle, version, [features])[0]
    times = []
    for _ in range(count):
        started = time.perf_counter()
        pictures.render(result, bundle)
        times.append(time.perf_counter() - started)
    return times


def _rates(values: list[float]) -> str:
    return "/".join(f"{value:.0f}" for value in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per model")
    parser.add_argument("--jobs", type=int, default=3000, help="jobs for the throughput run")
    parser.add_argument("--titanic-csv", default=DEFAULT_TITANIC_CSV)
    parser.add_argument("--rounds", type=int, default=3, help="throughput runs with metrics off and on, each")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        server, url = start_redis(root / "redis")
        model_dir = train_models(root, args.titanic_csv)
        env = process_env(root, url, model_dir)
        workers = [start_workers(env, queue) for queue in ("predict", "render")]
        try:
            connection = redis.Redis.from_url(url)
            cache = ModelCache(LocalModelRegistry(model_dir))
            sklearn.set_config(assume_finite=True, skip_parameter_validation=True)  # as the workers do
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
                stop(worker)
            workers = []
            # Metrics off and on in turns (a shared machine's load drifts): the cost of the counters and
            # histograms each job writes to the supervisor's multiprocess files.
            off, on = [], []
            for _ in range(args.rounds):
                off.append(drain_rate(connection, env, args.jobs, processes=1))
                metered = {**env, "METRICS_LISTEN": f"127.0.0.1:{free_port()}"}
                on.append(drain_rate(connection, metered, args.jobs, processes=1))
            rate, metered_rate = statistics.median(off), statistics.median(on)
            print(f"throughput: {rate:.0f} jobs/s for one worker process ({args.jobs} iris jobs, text answers only)")
            print(f"with METRICS_LISTEN: {metered_rate:.0f} jobs/s ({(metered_rate / rate - 1) * 100:+.1f} %; "
                  f"medians of {args.rounds} runs each, in turns: off {_rates(off)}, on {_rates(on)})")
            for model in COMMANDS:
                times = render_times(cache, model, 20)
                print(
                    f"picture {model}: p50 {percentile(times, 0.5) * 1e3:.0f} ms, "
                    f"p95 {percentile(times, 0.95) * 1e3:.0f} ms (render queue, off the text path)"
                )
        finally:
            for worker in workers:
                stop(worker)
            stop(server)


if __name__ == "__main__":
    main()
