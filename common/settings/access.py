"""Who may use the bots: allow lists of users and chats, for everything and for speech, and the owners."""

from __future__ import annotations

import re

from pydantic import field_validator

from common.settings.base import Area, split_items

# A platform's prefix and its numeric id: tg:123 (a Telegram user), tg:-1001234 (a group), dc:456.
PREFIXED_ID = re.compile(r"(tg|dc):-?\d{1,20}")


class AccessSettings(Area):
    """Unset lists: everyone. A user passes when listed or in a listed chat; ADMIN_USERS always pass."""

    ALLOWED_USERS: str = ""
    ALLOWED_CHATS: str = ""
    SPEECH_ALLOWED_USERS: str = ""  # the expensive work (speech) for these users and chats only
    SPEECH_ALLOWED_CHATS: str = ""
    ADMIN_USERS: str = ""

    @field_validator("ALLOWED_USERS", "ALLOWED_CHATS", "SPEECH_ALLOWED_USERS", "SPEECH_ALLOWED_CHATS", "ADMIN_USERS")
    @classmethod
    def _prefixed_ids(cls, value: str) -> str:
        for item in split_items(value):
            if not PREFIXED_ID.fullmatch(item):
                raise ValueError(
                    f"has '{item[:40]}', which is not a platform-prefixed id (tg:123 for Telegram, dc:456 for Discord)"
                )
        return value

    @staticmethod
    def ids(value: str) -> frozenset[str]:
        return frozenset(split_items(value))
