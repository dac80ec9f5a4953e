"""What one outbox message becomes on a platform: its texts within the limit, then at most one file."""

from __future__ import annotations

import asyncio

import redis

from bot.platform import Platform
from bot.replies import REST_IN_FILE, message_text
from bot.text_split import split_text, utf16_length
from common import artifacts
from common.jobs import OutboxMessage

Part = str | tuple[bytes, str, str, bool]  # a text, or a file: data, filename, caption, is-picture


async def message_parts(message: OutboxMessage, connection: redis.Redis, platform: Platform) -> list[Part]:
    """Texts to send in order, then at most one file."""
    text = message_text(message)
    if message.kind not in {"picture", "document"} or not message.artifact:
        return list(texts(message, text, platform.text_limit))
    data = await asyncio.to_thread(artifacts.load, connection, message.artifact)
    if data is None:
        return [f"The file for job {message.job_id} expired before it could be sent."]
    if len(data) > platform.upload_limit:
        size = f"{len(data) / 2**20:.1f} MiB"
        return [f"The file for job {message.job_id} is {size}, too large to send here."]
    filename = message.filename or f"{message.job_id or 'file'}.{'png' if message.kind == 'picture' else 'txt'}"
    picture = message.kind == "picture"
    if utf16_length(text) <= platform.caption_limit:
        return [(data, filename, text, picture)]
    return [*texts(message, text, platform.text_limit), (data, filename, "", picture)]


def texts(message: OutboxMessage, text: str, limit: int) -> list[str]:
    """The text split to the platform's limit; past ``max_parts`` pieces, a pointer to the file instead."""
    pieces = split_text(text, limit)
    if message.max_parts and len(pieces) > message.max_parts:
        return [*pieces[: message.max_parts], REST_IN_FILE]
    return pieces
