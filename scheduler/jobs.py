"""``/monitor <model>``: the current dashboard on demand, as an RQ job on the ``render`` queue.

The bot only queues ``scheduler.jobs.dashboard`` by name (it must not import matplotlib); a
worker draws the same picture as the daily round from the history as it is now, without adding
a round, and posts it to the chat that asked.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import redis
from apscheduler.triggers.cron import CronTrigger
from rq import get_current_job

from common import outbox
from common.jobs import DashboardRequest, OutboxMessage
from common.settings import load_settings
from scheduler import schedule
from scheduler.rounds import Monitor, message_for
from scheduler.wiring import build_monitor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dashboards:
    """What the job needs of the settings, built once per worker process and connection."""

    monitor: Monitor
    timezone: str
    cron: CronTrigger


# RQ calls a job by name with its payload only: the settings are read at the first job of a
# process (and connection), not at every one; a registry or feature store is not rebuilt per job.
_built: weakref.WeakKeyDictionary[redis.Redis, Dashboards] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def dashboards(connection: redis.Redis) -> Dashboards:
    with _lock:
        if connection not in _built:
            settings = load_settings()
            monitor_settings = settings.monitor
            _built[connection] = Dashboards(
                build_monitor(settings, connection),
                monitor_settings.MONITOR_TZ,
                schedule.trigger(monitor_settings.MONITOR_CRON, monitor_settings.MONITOR_TZ),
            )
        return _built[connection]


def dashboard(payload: dict[str, Any]) -> str | None:
    """Post the model's dashboard to the chat of the request; returns the artifact key."""
    job = get_current_job()
    assert job is not None, "run as an RQ job"
    request = DashboardRequest.from_dict(payload)
    built = dashboards(job.connection)
    now = schedule.now_in(built.timezone)
    summary = built.monitor.summary(request.model, now)
    if summary.total == 0:
        upcoming = built.cron.get_next_fire_time(None, now)
        when = f" The first round runs {upcoming:%a %d %b at %H:%M %Z}." if upcoming else ""
        text = f"There is no {request.model} monitoring history yet.{when}"
        outbox.post(job.connection, OutboxMessage(kind="text", reply=request.reply, job_id=job.id, text=text))
        return None
    key, text = built.monitor.picture(summary)
    # The whole address: the picture answers the very message that asked.
    outbox.post(job.connection, message_for(request.model, request.reply, key, text, job_id=job.id))
    return key


def round_now(payload: dict[str, Any]) -> str:
    """A monitoring round of one model now, asked for on the web: recorded in the history like a daily
    round (one per minute at most: the round is named by its minute), then its dashboard posted to the
    asker only; the subscribed chats keep their daily post. Returns the artifact key."""
    job = get_current_job()
    assert job is not None, "run as an RQ job"
    request = DashboardRequest.from_dict(payload)
    built = dashboards(job.connection)
    now = schedule.now_in(built.timezone).replace(second=0, microsecond=0)
    new, _ = built.monitor.record(request.model, schedule.round_id(now), now)
    key, text = built.monitor.picture(built.monitor.summary(request.model, now), new)
    outbox.post(job.connection, message_for(request.model, request.reply, key, text, job_id=job.id))
    return key
