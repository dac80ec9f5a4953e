"""Every environment variable the project reads, in one place.

Entry points call :func:`load_settings` once and pass the parts down; nothing else reads
``os.environ``. A malformed value raises :class:`SettingsError` naming the variable, which the
entry points turn into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import quote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
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


SENTINEL_SCHEME = "redis+sentinel"


class RedisSettings(_Area):
    """REDIS_URL unset means: start (or join) the embedded redis-server under DATA_DIR.

    With REDIS_SENTINELS, REDIS_URL becomes the sentinel form of :func:`sentinel_url`
    (``redis+sentinel://...``), so that every process passes one URL on as it does a plain one (the
    worker supervisor hands it to its children, who compose the same one from the same variables).
    """

    REDIS_URL: str | None = None
    REDIS_SENTINELS: str = ""  # host:port,host:port,... of the sentinels that watch the master
    REDIS_SENTINEL_MASTER: str = "mymaster"
    # The sentinels' password, and the master's and replicas' (one password for all, as with
    # requirepass/masterauth set alike and the sentinels' own requirepass).
    REDIS_SENTINEL_PASSWORD: SecretStr | None = None

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"redis", "rediss", "unix", SENTINEL_SCHEME}:
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator("REDIS_SENTINELS")
    @classmethod
    def _sentinel_addresses(cls, value: str) -> str:
        for item in _items(value):
            host, _, port = item.rpartition(":")
            if not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"has '{item[:60]}', which is not host:port (e.g. 10.0.0.5:26379)")
        return value

    @field_validator("REDIS_SENTINEL_MASTER")
    @classmethod
    def _master_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", value):
            raise ValueError("must be the master's name in the sentinels' configuration (letters, digits, . _ -)")
        return value

    @model_validator(mode="after")
    def _one_redis(self) -> RedisSettings:
        if not self.REDIS_SENTINELS:
            if self.REDIS_URL is not None and urlsplit(self.REDIS_URL).scheme == SENTINEL_SCHEME:
                raise ValueError("REDIS_URL must start with redis://, rediss:// or unix://")
            return self
        password = self.REDIS_SENTINEL_PASSWORD.get_secret_value() if self.REDIS_SENTINEL_PASSWORD else None
        url = sentinel_url(self.sentinels, self.REDIS_SENTINEL_MASTER, password)
        if self.REDIS_URL not in (None, url):
            raise ValueError("REDIS_URL and REDIS_SENTINELS are both set: set one of them")
        self.REDIS_URL = url
        return self

    @property
    def sentinels(self) -> tuple[tuple[str, int], ...]:
        pairs = (item.rpartition(":") for item in _items(self.REDIS_SENTINELS))
        return tuple((host.strip("[]"), int(port)) for host, _, port in pairs)


def sentinel_url(sentinels: tuple[tuple[str, int], ...], master: str, password: str | None) -> str:
    """``redis+sentinel://[:password@]host:port,host:port/master``: the sentinels, as one URL."""
    hosts = ",".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in sentinels)
    secret = f":{quote(password, safe='')}@" if password else ""
    return f"{SENTINEL_SCHEME}://{secret}{hosts}/{master}"


class StorageSettings(_Area):
    DATA_DIR: Path = Path("data")
    # Not ./models: that is the models/ package of the source tree.
    MODEL_DIR: Path = Path("data/models")


class ModelSettings(_Area):
    """More tabular models beside Iris and Titanic: modules that each export MODEL (see models/)."""

    EXTRA_MODELS: str = ""

    @field_validator("EXTRA_MODELS")
    @classmethod
    def _module_paths(cls, value: str) -> str:
        for item in _items(value):
            if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", item):
                raise ValueError(f"has '{item[:60]}', which is not a module path (e.g. mypackage.penguins)")
        return value

    @property
    def extra_models(self) -> tuple[str, ...]:
        return _items(self.EXTRA_MODELS)


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
    # A local Bot API server (telegram-bot-api --local) at TELEGRAM_API_URL: files bigger than the
    # cloud's 20 MB download limit, read from that server's disk.
    TELEGRAM_LOCAL_MODE: bool = False
    # Webhook mode (URL unset: long polling): the public https URL Telegram posts to, the host:port
    # this process listens on behind the reverse proxy, and the secret Telegram sends with each post.
    TELEGRAM_WEBHOOK_URL: str | None = None
    TELEGRAM_WEBHOOK_LISTEN: str = "127.0.0.1:8443"
    TELEGRAM_WEBHOOK_SECRET: SecretStr | None = None

    @field_validator("TELEGRAM_WEBHOOK_URL")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme != "https" or not parts.hostname or port not in {None, 443, 80, 88, 8443}:
            raise ValueError("must be an https:// URL on port 443, 80, 88 or 8443 (Telegram posts to no other)")
        return value

    @field_validator("TELEGRAM_WEBHOOK_LISTEN")
    @classmethod
    def _listen_address(cls, value: str) -> str:
        if _host_port(value) is None:
            raise ValueError("must be host:port, e.g. 127.0.0.1:8443 or 0.0.0.0:8443")
        return value

    @field_validator("TELEGRAM_WEBHOOK_SECRET")
    @classmethod
    def _secret_token(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's rule for secret_token; the message must never echo the value.
        if value is not None and (
            _is_placeholder(value.get_secret_value())
            or not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value())
        ):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - (and not a placeholder)")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramSettings:
        if self.TELEGRAM_WEBHOOK_URL and self.TELEGRAM_WEBHOOK_SECRET is None:
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL: without it anyone who finds "
                "the URL can post updates (e.g. the output of: openssl rand -hex 32)"
            )
        return self

    @property
    def webhook_listen(self) -> tuple[str, int]:
        address = _host_port(self.TELEGRAM_WEBHOOK_LISTEN)
        assert address is not None  # checked above
        return address

    @field_validator("TELEGRAM_LOCAL_MODE", mode="before")
    @classmethod
    def _true_or_false(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() not in {"true", "false", "1", "0", "yes", "no"}:
            raise ValueError("must be true or false")
        return value

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
    # Gateway shards (Discord requires them past 2,500 guilds): a number, or "auto" for the count
    # Discord recommends (GET /gateway/bot). DISCORD_SHARD_IDS: the shards this process runs (unset:
    # all), to split them over processes, each with the same DISCORD_SHARDS.
    DISCORD_SHARDS: str = "1"
    DISCORD_SHARD_IDS: str = ""

    @field_validator("DISCORD_SHARDS")
    @classmethod
    def _shard_count(cls, value: str) -> str:
        value = value.strip().lower()
        if value != "auto" and not (value.isdigit() and 1 <= int(value) <= 100_000):
            raise ValueError("must be a number of shards (1 or more) or auto")
        return value

    @field_validator("DISCORD_SHARD_IDS")
    @classmethod
    def _shard_id_list(cls, value: str) -> str:
        items = _items(value)
        if not all(item.isdigit() for item in items) or len(set(map(int, items))) != len(items):
            raise ValueError("must be shard numbers separated by commas, each once (e.g. 0,1)")
        return value

    @model_validator(mode="after")
    def _shard_ids_within_count(self) -> DiscordSettings:
        if not self.shard_ids:
            return self
        if self.shard_count is None:
            raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARDS as a number, the same for every process")
        if max(self.shard_ids) >= self.shard_count:
            raise ValueError(f"DISCORD_SHARD_IDS must be below DISCORD_SHARDS ({self.shard_count}), counting from 0")
        return self

    @property
    def shard_count(self) -> int | None:
        """None: as many as Discord recommends."""
        return None if self.DISCORD_SHARDS == "auto" else int(self.DISCORD_SHARDS)

    @property
    def shard_ids(self) -> tuple[int, ...] | None:
        """None: every shard."""
        return tuple(int(item) for item in _items(self.DISCORD_SHARD_IDS)) or None

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


class BotLimitSettings(_Area):
    """What one chat user may queue; beyond it the bots answer "busy, try again in N s"."""

    USER_JOBS_PER_MINUTE: int = Field(default=10, ge=1, le=10_000)
    MAX_QUEUE_LENGTH: int = Field(default=100, ge=1, le=1_000_000)
    # How long a prediction's acknowledgement waits for the answer, to send it alone (bot.quick); 0: never.
    QUICK_ANSWER_S: float = Field(default=1.0, ge=0, le=5)


class VideoSettings(_Area):
    ALLOWED_VIDEO_HOSTS: str = YOUTUBE_HOSTS
    MAX_VIDEO_SECONDS: int = Field(default=1800, gt=0, le=6 * 3600)
    YTDLP_COOKIES: Path | None = None
    # Hosts that may resolve to private or loopback addresses (an intranet media server; tests use
    # 127.0.0.1). Accepted like ALLOWED_VIDEO_HOSTS; every other host must resolve to public addresses.
    PRIVATE_VIDEO_HOSTS: str = ""
    # YouTube answers data-centre addresses that download a lot with a sign-in check: at most this many
    # YouTube downloads at a time over all workers sharing one Redis, and this pause between one
    # worker's requests to YouTube (yt-dlp's "-t sleep" preset uses 0.75 s).
    YOUTUBE_CONCURRENT_DOWNLOADS: int = Field(default=2, ge=1, le=100)
    YOUTUBE_SLEEP_S: float = Field(default=0.75, ge=0, le=60)

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return frozenset(host.strip().lower() for host in self.ALLOWED_VIDEO_HOSTS.split(",") if host.strip())

    @property
    def private_hosts(self) -> frozenset[str]:
        return frozenset(host.strip().lower() for host in self.PRIVATE_VIDEO_HOSTS.split(",") if host.strip())

    @field_validator("YTDLP_COOKIES")
    @classmethod
    def _cookies_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("must name an existing cookies file (Netscape format, as yt-dlp reads)")
        return value


class MonitorSettings(_Area):
    MONITOR_CRON: str = "0 8 * * *"
    MONITOR_TZ: str = "UTC"
    TELEGRAM_MONITOR_CHATS: str = ""  # comma-separated numeric chat ids (a group or channel: -100123...)
    DISCORD_MONITOR_CHANNELS: str = ""  # comma-separated channel ids
    MONITOR_SAMPLES: int = Field(default=1, ge=1, le=1000)  # synthetic samples per model per round
    # Drift is reported when the last 7 days' accuracy is this far below the registered CV accuracy.
    MONITOR_DRIFT_THRESHOLD: float = Field(default=0.10, ge=0.0, le=1.0)

    @field_validator("MONITOR_CRON")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("must be a cron expression of five fields, e.g. '0 8 * * *'")
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"is not a valid cron expression ({exc}), e.g. '0 8 * * *'") from exc
        return value

    @field_validator("TELEGRAM_MONITOR_CHATS")
    @classmethod
    def _telegram_chats(cls, value: str) -> str:
        for chat in _items(value):
            if not re.fullmatch(r"-?\d{1,20}", chat):
                raise ValueError(f"has '{chat[:40]}', which is not a numeric chat id (e.g. -1001234567890)")
        return value

    @field_validator("DISCORD_MONITOR_CHANNELS")
    @classmethod
    def _discord_channels(cls, value: str) -> str:
        for channel in _items(value):
            if not re.fullmatch(r"\d{1,20}", channel):
                raise ValueError(f"has '{channel[:40]}', which is not a channel id (digits)")
        return value

    @property
    def telegram_chats(self) -> tuple[str, ...]:
        return _items(self.TELEGRAM_MONITOR_CHATS)

    @property
    def discord_channels(self) -> tuple[str, ...]:
        return _items(self.DISCORD_MONITOR_CHANNELS)

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
    ASR_BEAM_SIZE: int = Field(default=5, ge=1, le=16)
    # Chunks decoded together; unset: 8 on a CPU, 16 on a GPU (see batch_size_for).
    ASR_BATCH_SIZE: int | None = Field(default=None, ge=1, le=128)
    # Divides the scores of tokens already written (1.0: off); see DecodeOptions.repetition_penalty.
    ASR_REPETITION_PENALTY: float = Field(default=1.2, ge=1.0, le=2.0)

    def batch_size_for(self, device: str) -> int:
        """ASR_BATCH_SIZE, or the default for the resolved device ("cpu" or "cuda")."""
        return self.ASR_BATCH_SIZE or (16 if device == "cuda" else 8)


class TrainingSettings(_Area):
    """Offline training. HF_TOKEN (a Hugging Face access token) enables pushing checkpoints to the Hub."""

    HF_TOKEN: SecretStr | None = None

    @field_validator("HF_TOKEN")
    @classmethod
    def _hub_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # The error message must never echo the token itself.
        if value is not None and (
            _is_placeholder(value.get_secret_value())
            or not re.fullmatch(r"hf_[A-Za-z0-9]{20,}", value.get_secret_value())
        ):
            raise ValueError("is not a Hugging Face access token (hf_..., from huggingface.co/settings/tokens)")
        return value


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
        self.video = _build(VideoSettings)
        self.monitor = _build(MonitorSettings)
        self.speech = _build(SpeechSettings)
        self.training = _build(TrainingSettings)


def load_settings() -> Settings:
    return Settings()


def _build(area: type[_AreaT]) -> _AreaT:
    try:
        return area()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else area.__name__
        reason = first["msg"].removeprefix("Value error, ")
        # A check across variables (a model validator) names them in its message.
        raise SettingsError(f"{name} {reason}" if first["loc"] else reason) from None


def _items(value: str) -> tuple[str, ...]:
    """A comma-separated setting as its non-empty, stripped items."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _host_port(value: str) -> tuple[str, int] | None:
    """``host:port`` (an IPv6 host in brackets) as its parts, None when it is not that."""
    host, _, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value
