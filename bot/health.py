"""python -m bot [telegram|discord|console] --check: Redis, and the platform's token setting.

A malformed token is refused when the settings load (common/settings/telegram.py), by a message that names
the variable only; a token is never printed. The check does not call the platform: a supervisor
runs it often, and the platform's rate limits are not ours to spend.
"""

from __future__ import annotations

import logging

from pydantic import SecretStr

from common.health import Check, check_redis, run_checks
from common.queues import ALL_QUEUES
from common.settings import Settings

logger = logging.getLogger(__name__)

TOKEN_SETTINGS = {"telegram": "TELEGRAM_TOKEN", "discord": "DISCORD_TOKEN"}


def check(platform: str | None) -> int:
    return run_checks(lambda settings: checks(settings, platform))


def checks(settings: Settings, platform: str | None) -> list[Check]:
    results = [check_redis(settings.redis.REDIS_URL, settings.storage.DATA_DIR, ALL_QUEUES)]
    if platform == "telegram":
        results.append(_token(settings.telegram.TELEGRAM_TOKEN, "TELEGRAM_TOKEN", settings.telegram.TELEGRAM_API_URL))
    elif platform == "discord":
        results.append(_token(settings.discord.DISCORD_TOKEN, "DISCORD_TOKEN", settings.discord.DISCORD_API_URL))
    return results


def _token(secret: SecretStr | None, name: str, api_url: str) -> Check:
    if secret is None:
        return Check(name, False, "is not set")
    # Its shape was checked when the settings loaded; say so without a single character of it.
    return Check(name, True, f"is set and well-formed (API {api_url})")
