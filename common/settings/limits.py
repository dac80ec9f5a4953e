"""What one chat user may queue."""

from __future__ import annotations

from pydantic import Field

from common.settings.base import Area


class BotLimitSettings(Area):
    """What one chat user may queue; beyond it the bots answer "busy, try again in N s"."""

    USER_JOBS_PER_MINUTE: int = Field(default=10, ge=1, le=10_000)
    MAX_QUEUE_LENGTH: int = Field(default=100, ge=1, le=1_000_000)
    # How long a prediction's acknowledgement waits for the answer, to send it alone (bot.quick); 0: never.
    QUICK_ANSWER_S: float = Field(default=1.0, ge=0, le=5)
