"""What a worker process loads once and its jobs use: installed by the entry point before work starts.

RQ calls job functions by dotted path with only their payload, so the per-process state they need
(the model cache) lives here rather than in arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.errors import StartupError
from workers.models import ModelCache


@dataclass
class WorkerContext:
    models: ModelCache


_installed: WorkerContext | None = None


def install(context: WorkerContext) -> None:
    global _installed
    _installed = context


def current() -> WorkerContext:
    if _installed is None:
        raise StartupError("the worker context was not installed: start workers with `python -m workers`")
    return _installed
