"""Every environment variable the project reads, in one place.

Entry points call :func:`load_settings` once and pass the parts down; nothing else reads
``os.environ``. A malformed value raises :class:`SettingsError` naming the variable, which the
entry points turn into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.errors import SettingsError

TITANIC_SHA256 = "4a437fde05fe5264e1701a7387ac6fb75393772ba38bb2c9c566405af5af4bd7"
# The labs' copy of the 891-passenger training set.
TITANIC_DEFAULT_URL = (
    "https://raw.githubusercontent.com/ID2223KTH/id2223kth.github.io/master/assignments/lab1/titanic.csv"
)
YOUTUBE_HOSTS = "youtube.com,www.youtube.com,m.youtube.com,music.youtube.com,youtu.be,www.youtu.be"
_AreaT = TypeVar("_AreaT", bound=BaseSettings)
PLACEHOLDERS = {"", "changeme", "change-me", "token", "your-token", "xxx", "todo", "none", "placeholder"}


def _is_placeholder(value: str) -> bool:
    return value.strip().lower() in PLACEHOLDERS or value.strip().startswith("<")


class _Area(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)


class RedisSettings(_Area):
    """REDIS_URL unset means: start (or join) the embedded redis-server under DATA_DIR."""

    REDIS_URL: str | None = None

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None


class StorageSettings(_Area):
    DATA_DIR: Path = Path("data")
    MODEL_DIR: Path = Path("models")


class DataSettings(_Area):
    TITANIC_URL: str = TITANIC_DEFAULT_URL
    HOPSWORKS_API_KEY: SecretStr | None = None
    HOPSWORKS_HOST: str | None = None

    @field_validator("TITANIC_URL")
    @classmethod
    def _titanic_source(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in {"https", "http", "file", ""}:
            raise ValueError("must be an https:// or file:// URL or a path")
        return value


class TelegramSettings(_Area):
    TELEGRAM_TOKEN: SecretStr | None = None
    TELEGRAM_API_URL: str = "https://api.telegram.org/bot"

    @field_validator("TELEGRAM_TOKEN")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # The error message must never echo the token itself.
        if value is not None and (
            _is_placeholder(value.get_secret_value())
            or not re.fullmatch(r"\d{3,}:[A-Za-z0-9_-]{20,}", value.get_secret_value())
        ):
            raise ValueError("is not a Telegram bot token (expected <digits>:<secret>, from @BotFather)")
        return value

    @field_validator("TELEGRAM_API_URL")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _check_http_url(value)


class DiscordSettings(_Area):
    DISCORD_TOKEN: SecretStr | None = None
    DISCORD_API_URL: str = "https://discord.com/api/v10"
    DISCORD_GATEWAY_URL: str | None = None

    @field_validator("DISCORD_TOKEN")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and (
            _is_placeholder(value.get_secret_value())
            or not re.fullmatch(r"[A-Za-z0-9_.-]{50,}", value.get_secret_value())
        ):
            raise ValueError("is not a Discord bot token (copy it from the application's Bot page)")
        return value

    @field_validator("DISCORD_API_URL")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _check_http_url(value)

    @field_validator("DISCORD_GATEWAY_URL")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"ws", "wss"}:
            raise ValueError("must be a ws:// or wss:// URL")
        return value


class VideoSettings(_Area):
    ALLOWED_VIDEO_HOSTS: str = YOUTUBE_HOSTS
    MAX_VIDEO_SECONDS: int = Field(default=1800, gt=0, le=6 * 3600)
    YTDLP_COOKIES: Path | None = None

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return frozenset(host.strip().lower() for host in self.ALLOWED_VIDEO_HOSTS.split(",") if host.strip())


class MonitorSettings(_Area):
    MONITOR_CRON: str = "0 8 * * *"
    MONITOR_TZ: str = "UTC"
    TELEGRAM_MONITOR_CHATS: str = ""
    DISCORD_MONITOR_CHANNELS: str = ""

    @field_validator("MONITOR_CRON")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("must be a cron expression of five fields, e.g. '0 8 * * *'")
        return value

    @field_validator("MONITOR_TZ")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not a known time zone, e.g. Europe/Stockholm") from exc
        return value


class SpeechSettings(_Area):
    ASR_MODEL: str = "KBLab/kb-whisper-small"
    MT_MODEL: str | None = None
    ASR_BACKEND: Literal["transformers", "ctranslate2"] = "ctranslate2"
    ASR_DEVICE: Literal["cpu", "cuda", "auto"] = "auto"


class Settings:
    """All areas, built once at an entry point."""

    def __init__(self) -> None:
        self.redis = _build(RedisSettings)
        self.storage = _build(StorageSettings)
        self.data = _build(DataSettings)
        self.telegram = _build(TelegramSettings)
        self.discord = _build(DiscordSettings)
        self.video = _build(VideoSettings)
        self.monitor = _build(MonitorSettings)
        self.speech = _build(SpeechSettings)


def load_settings() -> Settings:
    return Settings()


def _build(area: type[_AreaT]) -> _AreaT:
    try:
        return area()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else area.__name__
        reason = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{name} {reason}") from None


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value
