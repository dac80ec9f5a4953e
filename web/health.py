"""python -m web --check: the web settings, WEB_USERS, Redis; one line each, non-zero when one fails."""

from __future__ import annotations

from common.errors import SettingsError
from common.health import Check, check_redis, run_checks
from common.queues import ALL_QUEUES
from common.settings import Settings
from web.users import Users


def check() -> int:
    return run_checks(checks)


def checks(settings: Settings) -> list[Check]:
    web = settings.web
    results = [check_redis(settings.redis.REDIS_URL, settings.storage.DATA_DIR, ALL_QUEUES)]
    try:
        web.check_exposure()
        results.append(Check("listen", True, f"WEB_LISTEN {web.WEB_LISTEN}{' (WEB_PUBLIC)' if web.WEB_PUBLIC else ''}"))
    except SettingsError as exc:
        results.append(Check("listen", False, str(exc)))
    if web.WEB_USERS is None:
        results.append(Check("logins", True, "WEB_USERS is unset: no login"))
    else:
        try:
            users = Users.load(web.WEB_USERS)
            results.append(Check("logins", True, f"WEB_USERS has {len(users.hashes)} user(s)"))
        except SettingsError as exc:
            results.append(Check("logins", False, str(exc)))
    return results
