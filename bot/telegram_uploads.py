"""Voice notes and audio/video files sent to the Telegram bot, from the message to a queued job.

The caption says the task (/transcribe, the default, or /translate) and the language. Every refusal
that costs nothing comes before the download: the Bot API's getFile serves files of up to 20 MB, so
a bigger announced size is refused without a request, and the user's rate limit and the queue cap
are checked (and the job counted) before the bytes are fetched.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Audio, Bot, Document, Message, Video, VideoNote, Voice
from telegram.error import BadRequest, NetworkError
from telegram.ext import filters

from bot.commands import Answer, Commands
from bot.parsing import COMMAND, speech_arguments
from common.errors import BadCommand
from common.jobs import ReplyTo
from common.queues import TRANSCRIBE

logger = logging.getLogger(__name__)

DOWNLOAD_LIMIT = 20 * 2**20  # the Bot API's getFile refuses bigger files
# A local Bot API server (TELEGRAM_LOCAL_MODE) has no download limit; the file then goes to the worker
# as one Redis value, which Redis caps at 512 MB.
LOCAL_DOWNLOAD_LIMIT = 500 * 2**20
DOWNLOAD_TIMEOUT_S = 120
# Voice notes and audio/video files; in a group only with a /transcribe or /translate caption.
MEDIA = (filters.VOICE | filters.AUDIO | filters.VIDEO | filters.VIDEO_NOTE
         | filters.Document.AUDIO | filters.Document.VIDEO)
SPEECH_CAPTION = filters.CaptionRegex(r"^/(transcribe|translate)\b")


async def media_answer(
    message: Message, bot: Bot, commands: Commands, reply: ReplyTo, limit: int = DOWNLOAD_LIMIT
) -> Answer | None:
    """The answer to a message with a voice note or audio/video file; None when it has none."""
    media = message.voice or message.audio or message.video or message.video_note or message.document
    if not media:
        return None
    try:
        task, language = caption_request(message.caption or "")
    except BadCommand as exc:  # a bad lang=: refused before the download
        return Answer(str(exc))
    if task not in {None, "transcribe", "translate"}:
        return Answer(f"/{task} takes no file: caption it /transcribe or /translate, or leave "
                      "the caption empty to transcribe it.")
    if media.file_size and media.file_size > limit:
        return Answer(_too_big(media.file_size, limit))
    refused = await asyncio.to_thread(commands.admit, reply, TRANSCRIBE)
    if refused is not None:
        return refused
    try:
        file = await bot.get_file(media, read_timeout=DOWNLOAD_TIMEOUT_S)
        if file.file_size and file.file_size > limit:
            return Answer(_too_big(file.file_size, limit))
        data = bytes(await file.download_as_bytearray(read_timeout=DOWNLOAD_TIMEOUT_S))
    except NetworkError as exc:  # BadRequest "file is too big" too, when no size was announced
        logger.warning("downloading the file of message %s failed: %s", message.message_id, exc.message)
        too_big = isinstance(exc, BadRequest) and "too big" in exc.message
        return Answer(_too_big(None, limit) if too_big else "I could not fetch that file from Telegram; "
                      "please send it again.")
    return await asyncio.to_thread(
        commands.transcribe_upload, task, reply, data, _filename(media), language, admitted=True
    )


def caption_request(caption: str) -> tuple[str | None, str | None]:
    """`/translate lang=fi` as ("translate", "fi"); None for what the caption leaves to the chat's settings.

    Raises BadCommand for a language code that is no code.
    """
    words = caption.split()
    match = COMMAND.fullmatch(words[0]) if words else None
    if match is None:
        return None, None
    _, language = speech_arguments(words[1:])
    return match.group(1).lower(), language


def _filename(media: Voice | Audio | Video | VideoNote | Document) -> str:
    """The name the transcript files are named after; voice and video notes have none."""
    if isinstance(media, Voice):
        return "voice-note.ogg"
    if isinstance(media, VideoNote):
        return "video-note.mp4"
    return media.file_name or ("video.mp4" if isinstance(media, Video) else "audio")


def _too_big(size: int | None, limit: int) -> str:
    shown = f" is {size / 2**20:.1f} MB" if size else " is too big"
    who = "Telegram lets bots download" if limit == DOWNLOAD_LIMIT else "I take"
    return (f"That file{shown}; {who} files of up to {limit // 2**20} MB. "
            "Send a shorter clip, or a link to the video.")
