"""Choose the feature store and model registry: local by default, Hopsworks when its key is set."""

from __future__ import annotations

from typing import Any

from common.feature_store import LocalFeatureStore
from common.registry import LocalModelRegistry
from common.settings import Settings


def model_registry(settings: Settings, project: Any = None) -> Any:
    """A LocalModelRegistry under MODEL_DIR, or the Hopsworks one (same methods)."""
    if settings.data.HOPSWORKS_API_KEY is None:
        return LocalModelRegistry(settings.storage.MODEL_DIR)
    from common.hopsworks_backend import HopsworksModelRegistry

    return HopsworksModelRegistry(project or _login(settings), settings.storage.MODEL_DIR)


def feature_store(settings: Settings, project: Any = None) -> Any:
    """A LocalFeatureStore under DATA_DIR/features, or the Hopsworks one (same methods)."""
    if settings.data.HOPSWORKS_API_KEY is None:
        return LocalFeatureStore(settings.storage.DATA_DIR / "features")
    from common.hopsworks_backend import HopsworksFeatureStore

    return HopsworksFeatureStore(project or _login(settings))


def _login(settings: Settings) -> Any:
    from common.hopsworks_backend import login

    assert settings.data.HOPSWORKS_API_KEY is not None
    return login(settings.data.HOPSWORKS_API_KEY.get_secret_value(), settings.data.HOPSWORKS_HOST)
