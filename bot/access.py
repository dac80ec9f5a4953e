"""Who may use the bot: a stranger gets one plain refusal per chat per REFUSE_EVERY_S, then silence.

Checked before anything else (a malformed command from a stranger is not echoed either), before a
job is queued and before an attachment is downloaded. Ids are platform-prefixed (``tg:123``,
``dc:456``); the console is the operator's own terminal and is never refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from common.errors import UserError
from common.jobs import ReplyTo
from common.settings import AccessSettings

PREFIXES = {"telegram": "tg", "discord": "dc"}  # outbox -> the prefix of its ids
REFUSE_EVERY_S = 600  # a spammer gets silence, not an echo of every message


class NotAllowed(UserError):
    """The refusal; ``quiet``: this chat was refused lately, so nothing is sent (where the platform allows)."""

    def __init__(self, message: str, *, quiet: bool) -> None:
        super().__init__(message)
        self.quiet = quiet


@dataclass(frozen=True)
class AccessRules:
    users: frozenset[str] = frozenset()  # empty, with chats empty: everyone
    chats: frozenset[str] = frozenset()
    speech_users: frozenset[str] = frozenset()  # empty, with speech_chats empty: whoever may use the bot
    speech_chats: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: AccessSettings) -> AccessRules:
        ids = AccessSettings.ids
        return cls(
            ids(settings.ALLOWED_USERS), ids(settings.ALLOWED_CHATS), ids(settings.SPEECH_ALLOWED_USERS),
            ids(settings.SPEECH_ALLOWED_CHATS), ids(settings.ADMIN_USERS),
        )  # fmt: skip

    def allows(self, user: str | None, chat: str, *, speech: bool) -> bool:
        if user in self.admins:
            return True
        if (self.users or self.chats) and user not in self.users and chat not in self.chats:
            return False
        return (
            not speech
            or not (self.speech_users or self.speech_chats)
            or user in self.speech_users
            or (chat in self.speech_chats)
        )


class Access:
    def __init__(self, connection: redis.Redis, rules: AccessRules) -> None:
        self.connection = connection
        self.rules = rules

    def is_admin(self, reply: ReplyTo) -> bool:
        """One of ADMIN_USERS; the console's operator too."""
        prefix = PREFIXES.get(reply.outbox)
        return prefix is None or f"{prefix}:{reply.user}" in self.rules.admins

    def check(self, reply: ReplyTo, *, speech: bool = False) -> None:
        """Raises NotAllowed when the sender may not do this here."""
        prefix = PREFIXES.get(reply.outbox)
        if prefix is None:  # the console
            return
        user = f"{prefix}:{reply.user}" if reply.user else None
        if self.rules.allows(user, f"{prefix}:{reply.chat}", speech=speech):
            return
        first = self.connection.set(f"access:refused:{reply.outbox}:{reply.chat}", 1, nx=True, ex=REFUSE_EVERY_S)
        who = f" (your id: {user})" if user else ""
        if speech and self.rules.allows(user, f"{prefix}:{reply.chat}", speech=False):
            message = f"Transcription and translation are kept to the people this bot's owner chose{who}."
        else:
            message = f"Sorry, this bot only answers the people its owner let in{who}."
        raise NotAllowed(message, quiet=not first)
