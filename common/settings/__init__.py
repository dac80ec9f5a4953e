"""Every environment variable the project reads, in one place: one module per area.

Entry points call :func:`load_settings` once and pass the parts down; nothing else reads
``os.environ``. A malformed value raises :class:`SettingsError` naming the variable, which the
entry points turn into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

from pydantic import ValidationError

from common.errors import SettingsError
from common.settings.access import AccessSettings
from common.settings.base import AreaT
from common.settings.discord import DiscordSettings
from common.settings.limits import BotLimitSettings
from common.settings.metrics import MetricsSettings
from common.settings.monitor import MonitorSettings
from common.settings.redis_server import SENTINEL_SCHEME, RedisSettings, sentinel_url
from common.settings.speech import SpeechSettings
from common.settings.storage import TITANIC_DEFAULT_URL, TITANIC_SHA256, DataSettings, ModelSettings, StorageSettings
from common.settings.telegram import TelegramSettings
from common.settings.training import TrainingSettings
from common.settings.video import YOUTUBE_HOSTS, VideoSettings
from common.settings.web import WebSettings

__all__ = [
    "SENTINEL_SCHEME",
    "TITANIC_DEFAULT_URL",
    "TITANIC_SHA256",
    "YOUTUBE_HOSTS",
    "AccessSettings",
    "BotLimitSettings",
    "DataSettings",
    "DiscordSettings",
    "MetricsSettings",
    "ModelSettings",
    "MonitorSettings",
    "RedisSettings",
    "Settings",
    "SpeechSettings",
    "StorageSettings",
    "TelegramSettings",
    "TrainingSettings",
    "VideoSettings",
    "WebSettings",
    "load_settings",
    "sentinel_url",
]


class Settings:
    """All areas, built once at an entry point."""

    def __init__(self) -> None:
        self.redis = _build(RedisSettings)
        self.storage = _build(StorageSettings)
        self.models = _build(ModelSettings)
        self.data = _build(DataSettings)
        self.telegram = _build(TelegramSettings)
        self.discord = _build(DiscordSettings)
        self.limits = _build(BotLimitSettings)
        self.access = _build(AccessSettings)
        self.video = _build(VideoSettings)
        self.monitor = _build(MonitorSettings)
        self.speech = _build(SpeechSettings)
        self.training = _build(TrainingSettings)
        self.metrics = _build(MetricsSettings)
        self.web = _build(WebSettings)


def load_settings() -> Settings:
    return Settings()


def _build(area: type[AreaT]) -> AreaT:
    try:
        return area()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else area.__name__
        reason = first["msg"].removeprefix("Value error, ")
        # A check across variables (a model validator) names them in its message.
        raise SettingsError(f"{name} {reason}" if first["loc"] else reason) from None
