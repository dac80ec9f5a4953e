"""Which chats get the daily monitoring post of which model.

Two sources: chats that sent ``/subscribe`` (a Redis set per model, so every bot and the scheduler
see the same list and it survives restarts), and the chats an operator lists in settings
(TELEGRAM_MONITOR_CHATS, DISCORD_MONITOR_CHANNELS), which get every model and cannot be
unsubscribed from chat. A chat is named by its outbox and its id there, as in a ReplyTo.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis

from common.jobs import ReplyTo

logger = logging.getLogger(__name__)

KEY_PREFIX = "monitor:subscribers:"


@dataclass(frozen=True, order=True)
class Subscriber:
    outbox: str  # "telegram", "discord", "console-<session>"
    chat: str

    def address(self) -> ReplyTo:
        """Where this chat's posts go: the chat itself, answering no message in particular."""
        return ReplyTo(outbox=self.outbox, chat=self.chat)

    def encode(self) -> str:
        return json.dumps({"outbox": self.outbox, "chat": self.chat}, sort_keys=True)

    @classmethod
    def decode(cls, raw: bytes | str) -> Subscriber:
        data = json.loads(raw)
        return cls(outbox=str(data["outbox"]), chat=str(data["chat"]))


def from_settings(telegram_chats: Iterable[str], discord_channels: Iterable[str]) -> tuple[Subscriber, ...]:
    """The operator's always-subscribed chats (the parts of MonitorSettings, passed in)."""
    return tuple(Subscriber("telegram", chat) for chat in telegram_chats) + tuple(
        Subscriber("discord", channel) for channel in discord_channels
    )


class Subscriptions:
    def __init__(self, connection: redis.Redis, fixed: Iterable[Subscriber] = (), *, models: Sequence[str]) -> None:
        """``models``: the names that can be subscribed to (``tuple(models.MODELS)``), in their order."""
        self.connection = connection
        self.fixed = tuple(dict.fromkeys(fixed))
        self.models = tuple(models)

    def subscribe(self, subscriber: Subscriber, models: Iterable[str]) -> None:
        pipe = self.connection.pipeline()
        for model in models:
            pipe.sadd(self._key(model), subscriber.encode())
        pipe.execute()

    def unsubscribe(self, subscriber: Subscriber, models: Iterable[str]) -> list[str]:
        """Remove the chat from ``models``; returns the models it was subscribed to in chat."""
        models = list(models)
        pipe = self.connection.pipeline()
        for model in models:
            pipe.srem(self._key(model), subscriber.encode())
        removed = pipe.execute()
        return [model for model, count in zip(models, removed, strict=True) if count]

    def models_of(self, subscriber: Subscriber) -> list[str]:
        """The models this chat subscribed to in chat (not counting the settings)."""
        pipe = self.connection.pipeline()
        for model in self.models:
            pipe.sismember(self._key(model), subscriber.encode())
        return [model for model, member in zip(self.models, pipe.execute(), strict=True) if member]

    def is_fixed(self, subscriber: Subscriber) -> bool:
        return subscriber in self.fixed

    def subscribers(self, model: str) -> list[Subscriber]:
        """Every chat that gets ``model``'s post, each once, in a stable order."""
        stored = {Subscriber.decode(raw) for raw in self.connection.smembers(self._key(model))}
        return sorted(stored | set(self.fixed))

    def _key(self, model: str) -> str:
        if model not in self.models:
            raise ValueError(f"no monitoring for model {model!r}")
        return KEY_PREFIX + model
