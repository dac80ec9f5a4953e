"""python -m workers [--queues predict,render,transcribe] [--processes N] [--burst] [--check]

A small supervisor starts N worker processes and starts a new one when one dies. Each process
loads its models first, then runs RQ's non-forking SimpleWorker: forking a work horse per job costs
milliseconds, and CUDA cannot initialise in a forked child. A job that crashes its process (a
segfault, the OOM killer) costs that process only; the supervisor replaces it, and another worker
retries its job (workers/heartbeat.py). A child that cannot reach Redis at start is restarted with
back-off; one that stops for a configuration error (exit code 2) stops the supervisor.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import redis
from rq.serializers import JSONSerializer

from common.backends import model_registry
from common.connection import connect, resolve_url
from common.entrypoint import configure_logging, run
from common.errors import StartupError
from common.installs import FASTER_WHISPER, installed, transcribe_problem
from common.metrics import multiprocess
from common.metrics.serve import serve_metrics
from common.queues import ALL_QUEUES, PREDICT, RENDER, TRANSCRIBE
from common.settings import Settings, load_settings
from common.starting_workers import StartingWorker
from models import MODELS, load_extra
from models.cache import ModelCache
from workers import context
from workers.heartbeat import HeartbeatWorker, Liveness
from workers.job_slots import JobSlots

logger = logging.getLogger("workers")

RESTART_BACKOFF_S = (0.5, 1, 2, 5, 10)
STABLE_RUN_S = 300
CONFIGURATION_ERROR = 2  # the exit code of common.entrypoint.run for a ProjectError
SUPERVISOR_HERALD_S = 30.0  # how long the supervisor's "a worker is starting" lasts at most


def speech_installed() -> bool:
    """faster-whisper and CTranslate2 (the default install): enough to serve the transcribe queue."""
    return installed(*FASTER_WHISPER)


def default_queues() -> tuple[str, ...]:
    """Every queue this installation can serve: without faster-whisper, transcribe is left out."""
    return ALL_QUEUES if speech_installed() else tuple(q for q in ALL_QUEUES if q != TRANSCRIBE)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m workers", description="Run RQ workers for the ML jobs.")
    parser.add_argument("--queues", default=",".join(default_queues()),
                        help="comma-separated queues, first = highest priority (default: %(default)s; "
                        "transcribe only where faster-whisper is installed)")
    parser.add_argument("--processes", type=int, default=1, help="worker processes to supervise (default: 1)")
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    parser.add_argument("--check", action="store_true",
                        help="check Redis, MODEL_DIR and the models of these queues, print the result and exit "
                        "(non-zero when something is not usable)")
    parser.add_argument("--heartbeat-ttl", type=int, default=Liveness.heartbeat_ttl, metavar="S",
                        help="a running job whose worker is silent this long is retried elsewhere "
                        "(default: %(default)s)")
    parser.add_argument("--maintenance-interval", type=int, default=Liveness.maintenance_interval, metavar="S",
                        help="seconds between searches for jobs of dead workers (default: %(default)s)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    # Tests only: the worker that deletes this Redis key stops itself right after taking a job.
    parser.add_argument("--test-pause-key", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.queues = [name.strip() for name in args.queues.split(",") if name.strip()]
    unknown = set(args.queues) - set(ALL_QUEUES)
    if unknown or not args.queues:
        parser.error(f"--queues takes names from {', '.join(ALL_QUEUES)}")
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.heartbeat_ttl < 1 or args.maintenance_interval < 1:
        parser.error("--heartbeat-ttl and --maintenance-interval must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    configure_logging()
    if args.check:
        from workers.health import check

        return check(args.queues)
    settings = load_settings()
    load_extra(settings.models.extra_models)
    url = resolve_url(settings.redis.REDIS_URL, settings.storage.DATA_DIR)
    connection = connect(url, settings.storage.DATA_DIR)
    if args.child:
        liveness = Liveness(args.heartbeat_ttl, args.maintenance_interval)
        return work(settings, connection, args.queues, burst=args.burst, liveness=liveness,
                    pause_key=args.test_pause_key)
    # A child announces itself only once it runs: until then (seconds on a busy machine) the
    # supervisor stands in for it, so a bot does not tell users that no worker is coming.
    herald = StartingWorker(connection, args.queues, ttl_s=SUPERVISOR_HERALD_S)
    herald.announce_once()
    # The children use the same server, embedded or not; the supervisor keeps an embedded one alive.
    env = {**os.environ, "REDIS_URL": url}
    env.pop(multiprocess.ENV, None)
    children = multiprocess.ChildMetrics(settings.metrics.WORKER_METRICS_DIR) if settings.metrics.listen else None
    try:
        if children is not None:  # /metrics here adds up the children's (they serve none themselves)
            env = children.child_env(env)
            serve_metrics(settings.metrics, children.registry())
        return supervise(args, env, connection, child_died=children.child_died if children else None)
    finally:
        herald.withdraw()
        if children is not None:
            children.close()


def work(
    settings: Settings, connection: redis.Redis, queues: list[str], *, burst: bool, liveness: Liveness | None = None,
    pause_key: str | None = None,
) -> int:
    """One worker process: load the models, then take jobs until told to stop."""
    # RQ registers the worker once it takes jobs; until then the bots learn that one is on its way.
    starting = StartingWorker(connection, queues)
    starting.start()
    import sklearn  # here, not at the top: the supervisor and --check need no ML library

    # The bots validated every feature (finite, in range): scikit-learn's own checks on each call
    # would cost a quarter of a prediction.
    sklearn.set_config(assume_finite=True, skip_parameter_validation=True)
    registry = model_registry(settings)
    models = ModelCache(registry)
    if {PREDICT, RENDER} & set(queues):
        for name, model in MODELS.items():
            if registry.current_version_number(name) is None:
                # Not trained yet: serve the others; these jobs fail with a clear message until then.
                logger.warning("no %s model registered yet: run `%s`", name, model.training)
            else:
                models.get(name)  # a corrupt or missing file stops the start, naming the path
    context.install(context.WorkerContext(models=models))
    jobs_at_once = 1
    if TRANSCRIBE in queues:
        # The default install has no torch: say so at start, not at the first job (--check says the same).
        problem = transcribe_problem(settings.speech.ASR_BACKEND, settings.speech.MT_MODEL)
        if problem:
            raise StartupError(problem)
        jobs_at_once = _install_speech(settings, registry)
    options: dict[str, Any] = {
        "connection": connection, "serializer": JSONSerializer, "liveness": liveness or Liveness(),
        "pause_key": pause_key,
    }  # fmt: skip
    worker = HeartbeatWorker(queues, **options)
    # Speech jobs beyond the first run in job slots of this process, sharing its model's batches.
    slots = JobSlots(jobs_at_once - 1, [TRANSCRIBE], **options)
    worker.on_stop.append(slots.stop)
    worker.stop_on_signals_before_work()
    starting.stop()
    slots.start(burst=burst)
    # No RQ scheduler process: no job is scheduled for later (retries run at once), and a forked
    # scheduler outlives a SIGKILLed worker.
    try:
        worker.work(burst=burst, logging_level="WARNING")
    finally:
        slots.stop()
    slots.join()  # each slot ends its job first
    return 0


def _install_speech(settings: Settings, registry: Any) -> int:
    """Load the ASR model in this process, before the first job (CUDA cannot start in a forked child).

    Returns how many speech jobs the process holds at once (ASR_JOBS_AT_ONCE).
    """
    from common.video_links import LinkPolicy
    from workers.speech import runtime
    from workers.speech.backends import resolve_device
    from workers.speech.backends.decoding import DecodeOptions
    from workers.speech.batcher import windows_at_once
    from workers.speech.download_slots import YoutubePacing
    from workers.speech.js_runtime import log_at_start
    from workers.speech.models import AsrModels

    speech = settings.speech
    device = resolve_device(speech.ASR_DEVICE, torch_too=speech.ASR_BACKEND == "transformers" or bool(speech.MT_MODEL))
    options = DecodeOptions.from_settings(speech, device)
    models = AsrModels(registry, speech.ASR_MODEL, speech.ASR_BACKEND, device, options=options)
    runtime.install(runtime.SpeechRuntime(
        models=models, links=LinkPolicy.from_settings(settings.video), cookies=settings.video.YTDLP_COOKIES,
        mt_model=speech.MT_MODEL, youtube_pacing=YoutubePacing.from_settings(settings.video),
    ))
    log_at_start()  # the JavaScript runtime YouTube needs, or what to install
    decoded_at_once = None
    try:
        source, recogniser = models.current()
        decoded_at_once = windows_at_once(recogniser, options.batch_size)
        logger.info("ASR model %s ready (%s on %s, beam %d, batch %d, repetition penalty %.2g)", source.tag,
                    source.backend, models.device, options.beam_size, options.batch_size, options.repetition_penalty)
    except Exception as exc:  # the worker still serves: each job reports the model error to its user
        logger.error("ASR model not loaded at start: %s", exc)
    jobs_at_once = speech.jobs_at_once_for(device, decoded_at_once)
    logger.info("speech jobs at once: %d, their windows in shared batches", jobs_at_once)
    return jobs_at_once


def supervise(
    args: argparse.Namespace, env: dict[str, str], connection: redis.Redis,
    child_died: Callable[[int], None] | None = None,
) -> int:
    command = [
        sys.executable, "-m", "workers", "--child", "--queues", ",".join(args.queues),
        "--heartbeat-ttl", str(args.heartbeat_ttl), "--maintenance-interval", str(args.maintenance_interval),
    ]
    if args.burst:
        command.append("--burst")
    if args.test_pause_key:
        command += ["--test-pause-key", args.test_pause_key]
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
    started = [time.monotonic()] * args.processes
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
            if child_died is not None:
                child_died(child.pid)  # its live gauges leave the sums
            if stopping or (args.burst and code == 0):
                continue
            if code == CONFIGURATION_ERROR and _redis_answers(connection):
                # Restarting cannot help: the child printed why (a setting, a path, a corrupt model).
                stop(signal.SIGTERM, None)
                return CONFIGURATION_ERROR
            # A process that ran a good while died of something new: back off from the start again.
            failures[slot] = 1 if time.monotonic() - started[slot] > STABLE_RUN_S else failures[slot] + 1
            delay = RESTART_BACKOFF_S[min(failures[slot], len(RESTART_BACKOFF_S)) - 1]
            logger.error("worker process %d exited with %s; starting a new one in %s s", child.pid, code, delay)
            time.sleep(delay)
            if stopping:  # told to stop during the back-off: start nothing new
                continue
            started[slot] = time.monotonic()
            children[slot] = subprocess.Popen(command, env=env)
    return 0


def _redis_answers(connection: redis.Redis) -> bool:
    """Whether a child's start-up error can be a configuration error rather than a Redis outage."""
    try:
        return bool(connection.ping())
    except redis.exceptions.RedisError:
        return False


if __name__ == "__main__":
    run(main, "workers")
