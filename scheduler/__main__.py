"""python -m scheduler [--run-now]: the daily monitoring of every model in MODELS (Iris, Titanic, ...).

Without arguments: run the latest due round now if it was missed (once, however many were
missed while down), then one round per MONITOR_CRON in MONITOR_TZ until stopped.
With --run-now: run the latest due round once and exit, non-zero when a model's round failed.
"""

from __future__ import annotations

import argparse
import logging
import signal
from datetime import datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from prometheus_client import REGISTRY

from common.connection import connect
from common.entrypoint import configure_logging, run
from common.metrics import events as metric_events
from common.metrics.queues import QueueCollector
from common.metrics.serve import serve_metrics
from common.settings import load_settings
from models import MODELS, load_extra
from scheduler import schedule
from scheduler.rounds import Monitor
from scheduler.wiring import build_monitor

logger = logging.getLogger("scheduler")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description="Daily monitoring posts to chats.")
    parser.add_argument("--run-now", action="store_true", help="run the latest due round once and exit")
    args = parser.parse_args()
    configure_logging()
    settings = load_settings()
    load_extra(settings.models.extra_models)
    connection = connect(settings.redis.REDIS_URL, settings.storage.DATA_DIR)
    monitor = build_monitor(settings, connection)
    if settings.metrics.listen and not args.run_now:
        # The queue and worker gauges come from this one process, so that sums over processes stay true.
        REGISTRY.register(QueueCollector(connection))
        serve_metrics(settings.metrics)
    cron = schedule.trigger(settings.monitor.MONITOR_CRON, settings.monitor.MONITOR_TZ)
    if args.run_now:
        return 0 if run_due(monitor, cron) else 1
    return serve(monitor, cron)


def run_due(monitor: Monitor, cron: CronTrigger) -> bool:
    """Run the latest due round of every model; False when any of them failed."""
    now = schedule.now_in(cron.timezone)
    fire_time = schedule.latest_fire_time(cron, now) or now.replace(second=0, microsecond=0)
    ok = True
    for model in MODELS:
        try:
            outcome = monitor.run_round(model, fire_time)
        except Exception:  # one model's failure must not cost the other its round
            logger.exception("the %s round of %s failed", model, schedule.round_id(fire_time))
            ok = False
            continue
        if outcome.status == "already done":
            logger.info("%s round %s was already done: nothing to post", model, outcome.round_id)
        publish(monitor, model, fire_time)
    return ok


def publish(monitor: Monitor, model: str, at: datetime) -> None:
    """The model's monitoring figures as gauges (after each round, and at start from the last one)."""
    try:
        summary = monitor.summary(model, at)
    except Exception as exc:  # the round itself went fine; a gauge is not worth failing it
        logger.warning("monitoring metrics of %s not updated: %s", model, exc)
        return
    metric_events.monitored(model, summary.window_accuracy, summary.accuracy, summary.drifting)


def serve(monitor: Monitor, cron: CronTrigger) -> int:
    scheduler = BlockingScheduler(timezone=cron.timezone)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        else:
            # Stopped during the catch-up round, before the schedule started: a round cut short is
            # redone by the next start (rounds are idempotent), so just leave.
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # A persistent job store is not needed: rounds are named by their fire time and marked done
    # in Redis, so catching up at start is simply running the latest due round.
    run_due(monitor, cron)
    scheduler.add_job(
        run_due, cron, args=(monitor, cron), id="monitor", coalesce=True, max_instances=1, misfire_grace_time=None
    )
    upcoming = cron.get_next_fire_time(None, schedule.now_in(cron.timezone))
    logger.info("monitoring %s; next round %s", ", ".join(MODELS), upcoming)
    scheduler.start()
    return 0


if __name__ == "__main__":
    run(main, "scheduler")
