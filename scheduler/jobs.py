"""``/monitor <model>``: the current dashboard on demand, as an RQ job on the ``render`` queue.

The bot only queues ``scheduler.jobs.dashboard`` by name (it must not import matplotlib); a
worker draws the same picture as the daily round from the history as it is now, without adding
a round, and posts it to the chat that asked.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from rq import get_current_job

from common import outbox
from common.errors import StartupError
from common.jobs import OutboxMessage
from common.settings import load_settings
from common.subscriptions import Subscriber
from scheduler import schedule
from scheduler.rounds import message_for
from scheduler.wiring import build_monitor
from workers import context
from workers.models import ModelCache

logger = logging.getLogger(__name__)


def dashboard(payload: dict[str, Any]) -> str | None:
    """Post ``payload["model"]``'s dashboard to ``payload["reply"]``; returns the artifact key."""
    job = get_current_job()
    assert job is not None, "run as an RQ job"
    model, reply = payload["model"], payload["reply"]
    # RQ calls jobs by name with their payload only; the worker's settings are read here.
    settings = load_settings()
    monitor = build_monitor(settings, job.connection, _worker_models())
    now = schedule.now_in(settings.monitor.MONITOR_TZ)
    summary = monitor.summary(model, now)
    if summary.total == 0:
        upcoming = schedule.trigger(settings.monitor.MONITOR_CRON, settings.monitor.MONITOR_TZ).get_next_fire_time(
            None, now
        )
        when = f" The first round runs {upcoming:%a %d %b at %H:%M %Z}." if upcoming else ""
        text = f"There is no {model} monitoring history yet.{when}"
        outbox.post(job.connection, OutboxMessage(kind="text", reply=reply, job_id=job.id, text=text))
        return None
    key, text = monitor.picture(summary)
    message = message_for(model, Subscriber(reply["outbox"], str(reply["chat"])), key, text, job_id=job.id)
    outbox.post(job.connection, dataclasses.replace(message, reply=reply))  # the whole address: answer the message
    return key


def _worker_models() -> ModelCache | None:
    """The worker's model cache when the job runs in `python -m workers` (shared, already loaded)."""
    try:
        return context.current().models
    except StartupError:
        return None
