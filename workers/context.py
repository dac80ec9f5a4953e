"""What a worker process loads once and its prediction and render jobs use (see workers.installed)."""

from __future__ import annotations

from dataclasses import dataclass

from models.cache import ModelCache
from workers.installed import Installed


@dataclass
class WorkerContext:
    models: ModelCache


_installed: Installed[WorkerContext] = Installed("worker context")
install = _installed.install
current = _installed.current
