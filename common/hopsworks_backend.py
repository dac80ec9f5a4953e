"""Hopsworks as feature store and model registry, behind the same interface as the local ones.

Selected when HOPSWORKS_API_KEY is set (see common/backends.py); the `hopsworks` package is an
optional extra (`pip install '.[hopsworks]'`) imported only here. Not exercised offline: the tests
run the local backends, and this module is kept small so that it is easy to check by reading.

The registry's "current" version of a model is its highest version not held back: Hopsworks keeps
no pointer of ours, so a version registered with ``make_current=False`` (``training.whisper export
--no-current``) says so in its description, which comes with the version list. It is looked up at
most once a minute, and downloaded versions are cached under MODEL_DIR/.hopsworks/.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from common.errors import DataError, StartupError
from common.registry import ModelVersion

logger = logging.getLogger(__name__)

CURRENT_CACHE_S = 60.0
HELD_BACK = "[not current]"  # in the description of a version registered with make_current=False


def login(api_key: str, host: str | None) -> Any:
    """A Hopsworks project. Key and host are always passed: without them hopsworks prompts on stdin."""
    try:
        import hopsworks
    except ImportError as exc:
        raise StartupError(
            "HOPSWORKS_API_KEY is set but hopsworks is not installed: pip install '.[hopsworks]'"
        ) from exc
    host = host or "c.app.hopsworks.ai"
    try:
        return hopsworks.login(api_key_value=api_key, host=host)
    except Exception as exc:  # the client raises many types; none may print the key
        raise StartupError(f"cannot log in to Hopsworks at {host}: {type(exc).__name__}") from None


class HopsworksModelRegistry:
    def __init__(self, project: Any, cache_dir: Path) -> None:
        self._registry = project.get_model_registry()
        self.root = cache_dir / ".hopsworks"
        self._current: dict[str, tuple[float, int | None]] = {}

    def check_writable(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def register(
        self,
        name: str,
        write_files: Callable[[Path], None],
        *,
        metrics: dict[str, float],
        feature_schema: list[str],
        uri: str | None = None,
        extra: dict[str, Any] | None = None,
        make_current: bool = True,
    ) -> ModelVersion:
        with tempfile.TemporaryDirectory() as staging:
            write_files(Path(staging))
            description = f"features: {', '.join(feature_schema)}" + ("" if make_current else f" {HELD_BACK}")
            model = self._registry.python.create_model(name=name, metrics=metrics, description=description)
            model.save(staging)
        self._current.pop(name, None)
        return ModelVersion(
            name=name,
            version=int(model.version),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            metrics=metrics,
            feature_schema=feature_schema,
            uri=uri,
            extra=extra or {},
        )

    def current_version_number(self, name: str) -> int | None:
        checked_at, version = self._current.get(name, (0.0, None))
        if time.monotonic() - checked_at > CURRENT_CACHE_S:
            models = self._registry.get_models(name) or []
            serving = [int(m.version) for m in models if HELD_BACK not in (getattr(m, "description", "") or "")]
            version = max(serving, default=None)
            self._current[name] = (time.monotonic(), version)
        return version

    def current(self, name: str) -> ModelVersion | None:
        version = self.current_version_number(name)
        return None if version is None else self.get(name, version)

    def get(self, name: str, version: int) -> ModelVersion:
        model = self._registry.get_model(name, version=version)
        if model is None:
            raise DataError(f"Hopsworks has no {name} version {version}")
        return ModelVersion(
            name=name,
            version=version,
            created_at=str(getattr(model, "created", "")),
            metrics=dict(model.training_metrics or {}),
            files=[],
            uri=f"hopsworks://{name}/{version}",
        )

    def path(self, name: str, version: int) -> Path:
        """A local copy of the version's files, downloaded once."""
        local = self.root / name / str(version)
        if not local.exists():
            downloaded = Path(self._registry.get_model(name, version=version).download())
            local.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(downloaded, local)
        return local


class HopsworksFeatureStore:
    def __init__(self, project: Any) -> None:
        self._store = project.get_feature_store()

    def write_table(self, name: str, frame: pd.DataFrame, version: int = 1) -> str:
        group = self._store.get_or_create_feature_group(
            name=name, version=version, primary_key=["row_id"], description=f"{name} features"
        )
        group.insert(frame.reset_index(names="row_id"))
        return f"hopsworks://{name}/{version}"

    def read_table(self, name: str, version: int = 1) -> pd.DataFrame:
        frame = self._store.get_feature_group(name=name, version=version).read()
        return frame.sort_values("row_id").drop(columns="row_id").reset_index(drop=True)

    def append_history(self, name: str, records: list[dict[str, Any]]) -> None:
        group = self._store.get_or_create_feature_group(
            name=f"{name}_predictions", version=1, primary_key=["time"], description=f"{name} prediction history"
        )
        group.insert(pd.DataFrame(records))

    def read_history(self, name: str) -> list[dict[str, Any]]:
        try:
            frame = self._store.get_feature_group(name=f"{name}_predictions", version=1).read()
        except Exception:  # no history yet: the group does not exist
            return []
        return frame.sort_values("time").to_dict("records")
