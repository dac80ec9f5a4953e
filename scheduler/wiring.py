"""Settings -> a Monitor: shared by the scheduler process and the on-demand dashboard job."""

from __future__ import annotations

import logging

import redis

from common.backends import feature_store, model_registry
from common.settings import Settings
from common.subscriptions import Subscriptions, from_settings
from models import MODELS, DataSources
from models.cache import ModelCache
from scheduler.reference import ReferenceTables
from scheduler.rounds import Monitor, RoundOptions

logger = logging.getLogger(__name__)


def subscriptions(settings: Settings, connection: redis.Redis) -> Subscriptions:
    fixed = from_settings(settings.monitor.telegram_chats, settings.monitor.discord_channels)
    return Subscriptions(connection, fixed, models=tuple(MODELS))


def build_monitor(settings: Settings, connection: redis.Redis, models: ModelCache | None = None) -> Monitor:
    store = feature_store(settings)  # local under DATA_DIR/features, or Hopsworks
    return Monitor(
        connection,
        store,
        models or ModelCache(model_registry(settings)),
        subscriptions(settings, connection),
        ReferenceTables(store, DataSources.from_settings(settings)),
        RoundOptions(
            samples=settings.monitor.MONITOR_SAMPLES, drift_threshold=settings.monitor.MONITOR_DRIFT_THRESHOLD
        ),
    )
