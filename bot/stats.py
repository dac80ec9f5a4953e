"""/stats: the figures an admin of the bot asks for, from the day counters (common/usage.py) and the queues."""

from __future__ import annotations

import redis

from bot.queue_watch import QueueWatch
from common import usage
from common.queues import ALL_QUEUES, JobQueue

KIND = {"predict": "predictions", "render": "pictures", "transcribe": "speech"}


def stats_text(connection: redis.Redis, watch: QueueWatch) -> str:
    today, week = usage.period(connection, ALL_QUEUES, 1), usage.period(connection, ALL_QUEUES, 7)
    lines = ["Today / the last 7 days (UTC):"]
    for queue in ALL_QUEUES:
        line = (f"{KIND.get(queue, queue)}: {today.jobs[queue]} / {week.jobs[queue]} jobs, "
                f"{today.failed[queue]} / {week.failed[queue]} failed")
        waits, runs = usage.percentiles(week.waits[queue]), usage.percentiles(week.runs[queue])
        if waits and runs:
            line += f"; wait {_pair(waits)}, run {_pair(runs)} (median, 95th percentile; 7 days)"
        lines.append(line)
    lines.append(f"speech recognised: {today.speech_s / 60:.1f} / {week.speech_s / 60:.1f} min; "
                 f"distinct users: {today.users} / {week.users}")
    jobs = JobQueue(connection)
    now = ", ".join(
        f"{KIND.get(name, name)} {jobs.waiting(name)} waiting, {watch.live_workers(name)} workers"
        for name in ALL_QUEUES
    )
    lines.append(f"Now: {now}.")
    return "\n".join(lines)


def _pair(values: tuple[float, float]) -> str:
    return " / ".join(f"{value:.2f} s" if value < 10 else f"{value:.0f} s" for value in values)
