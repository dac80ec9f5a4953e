"""Queue lengths and workers per queue, read from Redis when Prometheus scrapes.

Registered in one process only (the scheduler), so that a sum over the scraped processes stays true.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from rq import Queue, worker_registration

from common import starting_workers
from common.queues import ALL_QUEUES

logger = logging.getLogger(__name__)

STATES = ("busy", "idle", "suspended", "starting")


class QueueCollector(Collector):
    def __init__(self, connection: redis.Redis, queues: tuple[str, ...] = ALL_QUEUES) -> None:
        self.connection = connection
        self.queues = queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        length = GaugeMetricFamily("mlchat_queue_length", "Jobs waiting in the queue.", labels=["queue"])
        workers = GaugeMetricFamily("mlchat_workers", "Live RQ workers of the queue by state (starting: "
                                    "loading its models).", labels=["queue", "state"])
        up = GaugeMetricFamily("mlchat_redis_up", "1 when this scrape could read the queues from Redis.")
        try:
            for queue in self.queues:
                length.add_metric([queue], Queue(queue, connection=self.connection).count)
                for state, count in self._workers(queue).items():
                    workers.add_metric([queue, state], count)
        except redis.RedisError as exc:
            logger.warning("queue metrics not read: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield from (length, workers, up)

    def _workers(self, queue: str) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        keys = sorted(worker_registration.get_keys(Queue(queue, connection=self.connection)))
        pipe = self.connection.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, "state")
        for state in pipe.execute() if keys else []:
            if state is None:  # registered, but its key expired: a dead worker not cleaned up yet
                continue
            name = state.decode() if isinstance(state, bytes) else str(state)
            counts[name if name in counts else "idle"] += 1  # RQ's "started": registered, no job yet
        counts["starting"] = starting_workers.count(self.connection, queue)
        return counts
