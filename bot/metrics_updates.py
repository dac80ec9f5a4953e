"""Counts each chat update the bot handled (and each refusal), by platform and result: one decorator
on the platform-neutral entry points of bot.commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from bot.access import NotAllowed
from common.errors import Busy, UserError
from common.jobs import ReplyTo
from common.metrics import events

F = TypeVar("F", bound=Callable[..., Any])


def refusal_reason(exc: UserError) -> str:
    if isinstance(exc, Busy):
        return "limit"
    if isinstance(exc, NotAllowed):
        return "access"
    return "bad_input"


def counts_updates(*, refusals_only: bool = False) -> Callable[[F], F]:
    """The answer's result: queued (a job), refused, answered; error when it raised.

    ``refusals_only``: a check that lets most updates pass on to a counted call (``admit``).
    """

    def wrap(function: F) -> F:
        @functools.wraps(function)
        def counted(*args: Any, **kwargs: Any) -> Any:
            outbox = next((a.outbox for a in (*args, *kwargs.values()) if isinstance(a, ReplyTo)), "")
            platform = events.platform_of(outbox)
            try:
                answer = function(*args, **kwargs)
            except Exception:
                events.update(platform, "error")
                raise
            refusal = getattr(answer, "refusal", None)
            if refusal:
                events.refused(platform, refusal)
            if answer is not None and (refusal or not refusals_only):
                events.update(platform, "refused" if refusal else "queued" if answer.job_id else "answered")
            return answer

        return counted  # type: ignore[return-value]

    return wrap
