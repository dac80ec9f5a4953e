"""Buttons under the bots' messages and what a press of one sends back.

A button's data is its action and the job it is about: ``cancel:<job>``, ``translate:<job>``,
``transcribe:fi:<job>`` (Telegram allows 64 bytes of callback data, Discord 100 characters of
custom_id). The data comes back from the platform's client, which may send any data it likes, so
nothing in it is trusted: a press is handled as the presser's own command, in the chat it was
pressed in (:meth:`bot.commands.Commands.press`), and a job of another chat is not found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.platform import Buttons
from common.errors import BadCommand
from common.jobs import OutboxMessage

ACTIONS = frozenset({"cancel", "translate", "transcribe"})
DATA = re.compile(r"(cancel|translate|transcribe(?::([a-z]{2,3}))?):([0-9a-f]{6,32})")


@dataclass(frozen=True)
class Press:
    action: str  # cancel, translate or transcribe
    job_id: str
    language: str | None = None  # transcribe as this language


def parse_press(data: str) -> Press:
    found = DATA.fullmatch(data or "")
    if found is None:
        raise BadCommand("That button is not one of mine.")
    action, language, job_id = found.group(1).split(":", 1)[0], found.group(2), found.group(3)
    return Press(action, job_id, language)


def cancel_button(job_id: str) -> Buttons:
    """Under an acknowledgement or a progress message of a job that can still be stopped."""
    return (("Cancel", f"cancel:{job_id}"),)


def message_buttons(message: OutboxMessage) -> Buttons:
    """The buttons a worker asked for under ``message``, as (label, data) for its job."""
    if not message.job_id:
        return ()
    return tuple(
        (label, f"{action}:{message.job_id}") for label, action in message.buttons
        if action.split(":", 1)[0] in ACTIONS
    )
