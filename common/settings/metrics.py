"""Prometheus metrics: where a process serves /metrics."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator

from common.settings.base import Area, host_port


class MetricsSettings(Area):
    # host:port of this process's /metrics (unset: no endpoint; the counters cost next to nothing).
    METRICS_LISTEN: str | None = None
    # The worker supervisor's directory for its children's metric files, emptied at its start and
    # passed to them as prometheus-client's PROMETHEUS_MULTIPROC_DIR (not set for the supervisor
    # itself: prometheus-client would write its files there before the directory is emptied).
    # Unset: a fresh temporary directory per supervisor, removed when it stops.
    WORKER_METRICS_DIR: Path | None = None

    @field_validator("METRICS_LISTEN")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if host_port(value) is None:
            raise ValueError("must be host:port, e.g. 127.0.0.1:9101 or 0.0.0.0:9101")
        return value.strip()

    @property
    def listen(self) -> tuple[str, int] | None:
        return host_port(self.METRICS_LISTEN) if self.METRICS_LISTEN else None
