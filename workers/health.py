"""python -m workers --check: Redis, MODEL_DIR and the models the selected queues need.

The Iris and Titanic models are loaded as a worker would load them (a corrupt file fails, naming its
path). The speech model is only resolved, not loaded: loading it takes seconds to minutes and a GPU's
memory; the check says where it comes from and whether its files are there.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from common.backends import model_registry
from common.errors import ProjectError
from common.health import Check, check_redis, run_checks
from common.queues import PREDICT, RENDER, TRANSCRIBE
from common.settings import Settings, SpeechSettings
from workers.models import ModelCache

logger = logging.getLogger(__name__)

TABULAR_MODELS = ("iris", "titanic")


def check(queues: list[str]) -> int:
    return run_checks(lambda settings: checks(settings, queues))


def checks(settings: Settings, queues: list[str]) -> list[Check]:
    results = [check_redis(settings.redis.REDIS_URL, settings.storage.DATA_DIR, tuple(queues))]
    results.append(check_model_dir(settings.storage.MODEL_DIR))
    try:
        registry = model_registry(settings)
    except Exception as exc:  # Hopsworks login: any failure means the registry is not usable
        results.append(Check("model registry", False, f"not usable: {exc}"))
        return results
    if {PREDICT, RENDER} & set(queues):
        results.extend(check_model(registry, name) for name in TABULAR_MODELS)
    if TRANSCRIBE in queues:
        results.append(check_asr(registry, settings.speech))
    return results


def check_model_dir(path: Path) -> Check:
    if not path.is_dir():
        return Check("MODEL_DIR", False, f"{path} is not a directory (train a model, or mount the shared volume)")
    if not os.access(path, os.R_OK | os.X_OK):
        return Check("MODEL_DIR", False, f"{path} is not readable by this user")
    return Check("MODEL_DIR", True, f"{path} is readable")


def check_model(registry: Any, name: str) -> Check:
    try:
        version = registry.current_version_number(name)
        if version is None:
            return Check(name, False, f"no version registered: run `python -m training.{name}`")
        ModelCache(registry).get(name)
    except ProjectError as exc:
        return Check(name, False, str(exc))
    return Check(name, True, f"version {version} loads")


def check_asr(registry: Any, speech: SpeechSettings) -> Check:
    """Where the speech model of the next job comes from, and whether its files are there."""
    from workers.speech.models import AsrModels  # numpy only; the ML libraries load with the model

    try:
        source = AsrModels(registry, speech.ASR_MODEL, speech.ASR_BACKEND, speech.ASR_DEVICE).source()
    except ProjectError as exc:
        return Check("asr", False, str(exc))
    origin = "registry " + source.tag if source.location != speech.ASR_MODEL else "ASR_MODEL"
    where = f"{origin} ({source.backend} backend, device {speech.ASR_DEVICE})"
    if Path(source.location).is_dir():
        return Check("asr", True, f"{where}: files in {source.location}, not loaded by the check")
    if not _looks_like_hub_id(source.location):
        return Check("asr", False, f"{where}: {source.location} is not a directory")
    cached = "in the local Hugging Face cache" if _in_hub_cache(source.location) else "downloaded at first load"
    return Check("asr", True, f"{where}: Hub id {source.location}, {cached}")


def _looks_like_hub_id(location: str) -> bool:
    parts = location.split("/")
    return len(parts) <= 2 and all(part and not part.startswith(".") for part in parts)


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
