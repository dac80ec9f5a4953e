"""The Discord bot: token, API and gateway, shards."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator, model_validator

from common.settings.base import Area, check_http_url, check_secret, split_items


class DiscordSettings(Area):
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
        items = split_items(value)
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
        return tuple(int(item) for item in split_items(self.DISCORD_SHARD_IDS)) or None

    @field_validator("DISCORD_TOKEN")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        return check_secret(
            value, r"[A-Za-z0-9_.-]{50,}", "is not a Discord bot token (copy it from the application's Bot page)"
        )

    @field_validator("DISCORD_API_URL")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("DISCORD_GATEWAY_URL")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"ws", "wss"}:
            raise ValueError("must be a ws:// or wss:// URL")
        return value
