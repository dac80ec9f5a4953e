"""The worker supervisor's metrics: its children write prometheus-client's multiprocess files into one
directory, and the supervisor's /metrics adds them up.

The directory is emptied at start (files of an earlier run would count twice), and a dead child is
marked so that its live gauges drop out; its counters stay in the sums, as they should.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

ENV = "PROMETHEUS_MULTIPROC_DIR"


class ChildMetrics:
    def __init__(self, directory: Path | None = None) -> None:
        self._owned = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="mlchat-metrics-")) if directory is None else directory
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob("*.db"):
            stale.unlink()

    def child_env(self, env: dict[str, str]) -> dict[str, str]:
        """The children's environment: prometheus-client reads the directory when it is imported."""
        return {**env, ENV: str(self.directory)}

    def registry(self) -> CollectorRegistry:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.directory))
        return registry

    def child_died(self, pid: int) -> None:
        mark_process_dead(pid, str(self.directory))

    def close(self) -> None:
        if self._owned:
            shutil.rmtree(self.directory, ignore_errors=True)
