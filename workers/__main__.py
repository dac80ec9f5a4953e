"""python -m workers [--queues predict,render,transcribe] [--processes N] [--burst]

A small supervisor starts N worker processes and starts a new one when one dies. Each process
loads its models first, then runs RQ's non-forking SimpleWorker: forking a work horse per job costs
milliseconds, and CUDA cannot initialise in a forked child. A job that crashes its process (a
segfault, the OOM killer) costs that process only; the supervisor replaces it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

import redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from common.backends import model_registry
from common.connection import connect, resolve_url
from common.entrypoint import configure_logging, run
from common.queues import ALL_QUEUES, PREDICT, RENDER
from common.settings import Settings, load_settings
from workers import context
from workers.models import ModelCache

logger = logging.getLogger("workers")

RESTART_BACKOFF_S = (0.5, 1, 2, 5, 10)
CONFIGURATION_ERROR = 2  # the exit code of common.entrypoint.run for a ProjectError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m workers", description="Run RQ workers for the ML jobs.")
    parser.add_argument("--queues", default=",".join(ALL_QUEUES),
                        help="comma-separated queues, first = highest priority (default: %(default)s)")
    parser.add_argument("--processes", type=int, default=1, help="worker processes to supervise (default: 1)")
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.queues = [name.strip() for name in args.queues.split(",") if name.strip()]
    unknown = set(args.queues) - set(ALL_QUEUES)
    if unknown or not args.queues:
        parser.error(f"--queues takes names from {', '.join(ALL_QUEUES)}")
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    configure_logging()
    settings = load_settings()
    url = resolve_url(settings.redis.REDIS_URL, settings.storage.DATA_DIR)
    connection = connect(url, settings.storage.DATA_DIR)
    if args.child:
        return work(settings, connection, args.queues, burst=args.burst)
    # The children use the same server, embedded or not; the supervisor keeps an embedded one alive.
    return supervise(args, {**os.environ, "REDIS_URL": url})


def work(settings: Settings, connection: redis.Redis, queues: list[str], *, burst: bool) -> int:
    """One worker process: load the models, then take jobs until told to stop."""
    registry = model_registry(settings)
    models = ModelCache(registry)
    if {PREDICT, RENDER} & set(queues):
        for name in ("iris", "titanic"):
            if registry.current_version_number(name) is None:
                # Not trained yet: serve the other model; these jobs fail with a clear message until then.
                logger.warning("no %s model registered yet: run `python -m training.%s`", name, name)
            else:
                models.get(name)  # a corrupt or missing file stops the start, naming the path
    context.install(context.WorkerContext(models=models))
    worker = SimpleWorker(queues, connection=connection, serializer=JSONSerializer)
    worker.work(burst=burst, logging_level="WARNING", with_scheduler=True)
    return 0


def supervise(args: argparse.Namespace, env: dict[str, str]) -> int:
    command = [sys.executable, "-m", "workers", "--child", "--queues", ",".join(args.queues)]
    if args.burst:
        command.append("--burst")
    children: dict[int, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            child.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failures = [0] * args.processes
    for slot in range(args.processes):
        children[slot] = subprocess.Popen(command, env=env)
    logger.info("%d worker process(es) on queues %s", args.processes, ",".join(args.queues))
    while children:
        time.sleep(0.2)
        for slot, child in list(children.items()):
            code = child.poll()
            if code is None:
                continue
            del children[slot]
            if stopping or (args.burst and code == 0):
                continue
            if code == CONFIGURATION_ERROR:
                # Restarting cannot help: the child printed why (a setting, a path, a corrupt model).
                stop(signal.SIGTERM, None)
                return CONFIGURATION_ERROR
            failures[slot] += 1
            delay = RESTART_BACKOFF_S[min(failures[slot], len(RESTART_BACKOFF_S)) - 1]
            logger.error("worker process %d exited with %s; starting a new one in %s s", child.pid, code, delay)
            time.sleep(delay)
            children[slot] = subprocess.Popen(command, env=env)
    return 0


if __name__ == "__main__":
    run(main, "workers")
