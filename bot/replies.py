"""What users read: help, acknowledgements and results, as plain text for any platform."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from common.jobs import OutboxMessage, PredictionResult
from models import MODELS


def help_text() -> str:
    """/help: every model's example and description (MODELS), then the other commands."""
    models = "\n".join(
        f"{model.schema.example}\n" + "\n".join(f"    {line}" for line in model.help.splitlines())
        for model in MODELS.values()
    )
    names = "|".join(MODELS)
    return f"""I run machine-learning jobs for you. Commands:

{models}
/transcribe <youtube-link> [lang=xx]
    Swedish speech in a video, as Swedish text (with .txt and .srt files).
/translate <youtube-link> [lang=xx]
    Swedish speech in a video, as English text.
    lang=xx names another spoken language (fi, en, de, ...); with lang=auto I find out which.
    Instead of a link you can send a voice note or an audio/video file (in Telegram with
    /transcribe or /translate as caption).
/status <job-id>   /cancel <job-id>
    Where your job is; stop it.
/subscribe <{names}|all>   /unsubscribe   /monitor <{names}>
    A daily picture of how the models do; the current one now.
/settings [lang=xx] [task=transcribe|translate] [voice=auto|off] [files=txt,srt,vtt,json]
    This chat's spoken language, what a file without a caption gets, whether voice notes are
    transcribed unasked, and which files come with a transcript (in a group: its admins).
/help
    This text."""


REST_IN_FILE = "(The rest is in the .txt file.)"  # after the first pieces of a text too long to send whole


def ordinal(position: int) -> str:
    suffix = "th" if 10 <= position % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(position % 10, "th")
    return f"{position}{suffix}"


def acknowledgement(job_id: str, position: int, wait: str = "") -> str:
    """``wait``: "about 2 min", from measured run times (common/durations.py), or "" with no data yet."""
    if position <= 0:
        return f"Working on it (job {job_id})."
    return f"Queued as job {job_id}: {ordinal(position)} in line" + (f" ({wait})." if wait else ".")


def prediction_text(result: dict[str, Any]) -> str:
    prediction = PredictionResult.from_dict(result)
    if prediction.model not in MODELS:  # a worker's model this bot was not started with (EXTRA_MODELS)
        label, version = prediction.label, prediction.version
        return f"{prediction.model}: {label} ({prediction.probability:.0%} sure). Model v{version}."
    return MODELS[prediction.model].reply_text(prediction)


def message_text(message: OutboxMessage) -> str:
    """The text (or caption) for an outbox message."""
    if message.kind in {"prediction", "picture"} and message.result:
        return prediction_text(message.result)
    return message.text


def subscribed(models: Sequence[str]) -> str:
    names = _and(models)
    return (
        f"Subscribed: this chat gets the daily monitoring picture of {names}. "
        f"/monitor {models[0]} shows the current one now; /unsubscribe stops them."
    )


def unsubscribed(models: Sequence[str], removed: Sequence[str], remaining: Sequence[str], *, fixed: bool) -> str:
    if removed:
        text = f"Unsubscribed: no more daily monitoring pictures of {_and(removed)} here."
    else:
        text = f"This chat was not subscribed to {_and(models)}."
    if remaining:
        text += f" Still subscribed to {_and(remaining)}."
    if fixed:
        text += " The bot's settings also send every monitoring picture here; only its operator can change that."
    return text


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def delivery_notice(message: OutboxMessage) -> str:
    """What an acknowledgement that showed progress says once the job's last message is sent."""
    if message.kind == "failed":
        return f"Job {message.job_id} stopped: see below."
    return f"Job {message.job_id} is done: the answer is below."


def too_many_jobs(limit: int, window_s: float, retry_after: int) -> str:
    return f"You have sent {limit} jobs in the last {window_s:g} s, my limit: busy, try again in {retry_after} s."


def queue_full(retry_after: int) -> str:
    return f"Sorry, my queue is full right now: busy, try again in {retry_after} s."
