"""The daily monitoring: when, where it is posted, how many samples."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from common.settings.base import Area, split_items


class MonitorSettings(Area):
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
        for chat in split_items(value):
            if not re.fullmatch(r"-?\d{1,20}", chat):
                raise ValueError(f"has '{chat[:40]}', which is not a numeric chat id (e.g. -1001234567890)")
        return value

    @field_validator("DISCORD_MONITOR_CHANNELS")
    @classmethod
    def _discord_channels(cls, value: str) -> str:
        for channel in split_items(value):
            if not re.fullmatch(r"\d{1,20}", channel):
                raise ValueError(f"has '{channel[:40]}', which is not a channel id (digits)")
        return value

    @property
    def telegram_chats(self) -> tuple[str, ...]:
        return split_items(self.TELEGRAM_MONITOR_CHATS)

    @property
    def discord_channels(self) -> tuple[str, ...]:
        return split_items(self.DISCORD_MONITOR_CHANNELS)

    @field_validator("MONITOR_TZ")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not a known time zone, e.g. Europe/Stockholm") from exc
        return value
