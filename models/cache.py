"""Models loaded once per process (a worker, the scheduler), swapped when the registry's current version changes."""

from __future__ import annotations

import logging
import threading
from typing import Any

import joblib

from common.errors import DataError
from common.metrics import events as metric_events
from common.registry import LocalModelRegistry
from models.registry import MODELS

logger = logging.getLogger(__name__)


class ModelCache:
    """``get(name)`` returns (version, bundle) of the current version, loading it at most once."""

    def __init__(self, registry: LocalModelRegistry) -> None:
        self.registry = registry
        self._loaded: dict[str, tuple[int, Any]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple[int, Any]:
        version = self.registry.current_version_number(name)
        if version is None:
            how = MODELS[name].training if name in MODELS else f"python -m training.{name}"
            raise DataError(f"no {name} model is registered yet: run `{how}`")
        loaded = self._loaded.get(name)
        if loaded and loaded[0] == version:
            return loaded
        with self._lock:
            loaded = self._loaded.get(name)
            if not loaded or loaded[0] != version:
                loaded = (version, self._load(name, version))
                self._loaded[name] = loaded
                logger.info("loaded %s model version %d", name, version)
                metric_events.model_loaded(name, version)
        return loaded

    def _load(self, name: str, version: int) -> Any:
        path = self.registry.path(name, version) / "model.joblib"
        try:
            return joblib.load(path)
        except FileNotFoundError as exc:
            raise DataError(f"model file {path} is missing") from exc
        except Exception as exc:  # unpickling a damaged file raises almost anything
            raise DataError(f"model file {path} is corrupt or unreadable: {exc}") from exc
