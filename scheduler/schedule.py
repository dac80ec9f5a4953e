"""Rounds named by their scheduled time: the same name in every process, whenever it runs.

A round is identified by the cron's latest fire time at or before now. Two schedulers, a
restarted one or ``--run-now`` therefore agree on which round is due, and a round that is
already done (a key in Redis, see rounds.py) is not run twice. Rounds missed while the scheduler
was down collapse into the latest one, run once at start.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

logger = logging.getLogger(__name__)

# Search back this far for the latest fire time: a day first, then up to a year and a bit.
LOOKBACK = (timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=367))


def trigger(cron: str, timezone: str) -> CronTrigger:
    return CronTrigger.from_crontab(cron, timezone=ZoneInfo(timezone))


def latest_fire_time(cron_trigger: CronTrigger, now: datetime) -> datetime | None:
    """The last time at or before ``now`` that the trigger fired (or would have)."""
    for lookback in LOOKBACK:
        fire = cron_trigger.get_next_fire_time(None, now - lookback)
        if fire is None or fire > now:
            continue
        latest = fire
        while True:
            following = cron_trigger.get_next_fire_time(latest, latest + timedelta(seconds=1))
            if following is None or following > now:
                return latest
            latest = following
    return None


def round_id(fire_time: datetime) -> str:
    """The round's name: its fire time in UTC, so that a change of MONITOR_TZ keeps names unique."""
    return fire_time.astimezone(ZoneInfo("UTC")).isoformat(timespec="minutes")


def now_in(timezone: str | tzinfo) -> datetime:
    zone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    return datetime.now(zone)
