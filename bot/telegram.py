"""The Telegram front end: python-telegram-bot long polling in, the "telegram" outbox out.

Handlers only translate: message text goes to :meth:`Commands.handle`, a voice note or audio/video
file (downloaded through the Bot API) to :meth:`Commands.transcribe_upload`; the answer is sent as a
reply and remembered as the job's acknowledgement; :class:`bot.delivery.Delivery` sends the rest.
AIORateLimiter keeps us inside Telegram's flood limits and retries a 429 after its retry_after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import redis
from telegram import Audio, BotCommand, Document, InputFile, Message, ReplyParameters, Update, Video, VideoNote, Voice
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.warnings import PTBDeprecationWarning

from bot.commands import Answer, Commands
from bot.delivery import Ack, AckStore, Delivery, RetryLater, Transient, Undeliverable, consumer_slot
from bot.parsing import COMMAND
from common.errors import StartupError
from common.jobs import ReplyTo
from common.outbox import OutboxReader

logger = logging.getLogger(__name__)

OUTBOX = "telegram"
PHOTO_LIMIT = 10 * 2**20  # larger pictures go as documents (up to upload_limit)
DOWNLOAD_LIMIT = 20 * 2**20  # the Bot API's getFile refuses bigger files
DOWNLOAD_TIMEOUT_S = 120
# Voice notes and audio/video files; in a group only with a /transcribe or /translate caption.
MEDIA = (filters.VOICE | filters.AUDIO | filters.VIDEO | filters.VIDEO_NOTE
         | filters.Document.AUDIO | filters.Document.VIDEO)
SPEECH_CAPTION = filters.CaptionRegex(r"^/(transcribe|translate)\b")
POLL_LOCK = "bot:telegram:poller"
POLL_LOCK_TTL_S = 30
# Renew the lock if it is ours, else take it if it is free: 1 when we hold it afterwards.
LEAD_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
return 0
"""
RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
COMMANDS = [
    BotCommand("iris", "Iris species from 4 measurements in cm, e.g. /iris 5.1 3.5 1.4 0.2"),
    BotCommand("titanic", "Would a passenger survive? /titanic pclass=1 sex=female age=29"),
    BotCommand("translate", "Swedish speech in a video or file, as English text: /translate <link>"),
    BotCommand("transcribe", "Swedish speech in a video or file, as Swedish text: /transcribe <link>"),
    BotCommand("subscribe", "Daily monitoring picture here: /subscribe iris|titanic|all"),
    BotCommand("unsubscribe", "Stop the daily monitoring pictures"),
    BotCommand("monitor", "The monitoring picture now: /monitor iris|titanic"),
    BotCommand("status", "Where your job is: /status <job>"),
    BotCommand("cancel", "Stop your job: /cancel <job>"),
    BotCommand("help", "What I can do"),
]


class TelegramPlatform:
    """:class:`bot.delivery.Platform` for Telegram."""

    name = OUTBOX
    text_limit = 4096
    caption_limit = 1024
    upload_limit = 50 * 2**20

    def __init__(self, application: Application) -> None:
        self.bot = application.bot

    async def send_text(self, reply: ReplyTo, ack: Ack | None, text: str) -> str:
        async with _mapped_errors():
            sent = await self.bot.send_message(int(reply.chat), text, reply_parameters=_replying(reply))
        return str(sent.message_id)

    async def send_file(
        self, reply: ReplyTo, ack: Ack | None, data: bytes, filename: str, caption: str, *, picture: bool
    ) -> str:
        file = InputFile(data, filename=filename)
        async with _mapped_errors():
            if picture and len(data) <= PHOTO_LIMIT:
                sent = await self.bot.send_photo(
                    int(reply.chat), file, caption=caption or None, reply_parameters=_replying(reply)
                )
            else:
                sent = await self.bot.send_document(
                    int(reply.chat), file, caption=caption or None, reply_parameters=_replying(reply)
                )
        return str(sent.message_id)

    async def edit_text(self, ack: Ack, text: str) -> None:
        try:
            async with _mapped_errors():
                await self.bot.edit_message_text(text, chat_id=int(ack.chat), message_id=int(ack.message))
        except Undeliverable as exc:
            if "not modified" not in str(exc):
                raise


def _replying(reply: ReplyTo) -> ReplyParameters | None:
    if not reply.message:
        return None
    return ReplyParameters(message_id=int(reply.message), allow_sending_without_reply=True)


@contextlib.asynccontextmanager
async def _mapped_errors() -> AsyncIterator[None]:
    """PTB's errors as delivery's: BadRequest is a NetworkError subclass, so the order matters."""
    try:
        yield
    except RetryAfter as exc:
        with warnings.catch_warnings():  # PTB 22 warns that retry_after becomes a timedelta
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            seconds = exc.retry_after
        raise RetryLater(seconds if isinstance(seconds, int | float) else seconds.total_seconds()) from exc
    except (BadRequest, Forbidden, InvalidToken, ChatMigrated) as exc:
        raise Undeliverable(exc.message) from exc
    except NetworkError as exc:  # TimedOut, 5xx, connection errors
        raise Transient(exc.message) from exc


class TelegramBot:
    def __init__(
        self, token: str, api_url: str, commands: Commands, connection: redis.Redis, state_dir: Path
    ) -> None:
        self.commands = commands
        self.connection = connection
        self.state_dir = state_dir
        self.acks = AckStore(connection, OUTBOX)
        self.application = (
            ApplicationBuilder()
            .token(token)
            .base_url(api_url)
            .base_file_url(api_url.removesuffix("/bot").rstrip("/") + "/file/bot")
            .rate_limiter(AIORateLimiter(max_retries=3))
            .concurrent_updates(True)
            .build()
        )
        # Commands anywhere; in a private chat plain text too, so it gets the "start with a slash" hint.
        self.application.add_handler(
            MessageHandler(filters.TEXT & (filters.COMMAND | filters.ChatType.PRIVATE), self._on_message)
        )
        self.application.add_handler(
            MessageHandler(MEDIA & (filters.ChatType.PRIVATE | SPEECH_CAPTION), self._on_media)
        )
        self.application.add_error_handler(self._on_error)

    def run(self) -> int:
        return asyncio.run(self._serve())

    async def _serve(self) -> int:
        consumer, lock = consumer_slot(self.state_dir, OUTBOX)
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        try:
            await self.application.initialize()
        except InvalidToken:
            raise StartupError("Telegram refused TELEGRAM_TOKEN: copy the token @BotFather gave you") from None
        except NetworkError as exc:
            raise StartupError(f"cannot reach the Telegram API (TELEGRAM_API_URL): {exc.message}") from None
        try:
            await self.application.bot.set_my_commands(COMMANDS)
            await self.application.start()
            reader = OutboxReader(self.connection, OUTBOX, consumer=consumer)
            delivery = Delivery(TelegramPlatform(self.application), self.connection, reader)
            deliveries = asyncio.create_task(delivery.run())
            polling = asyncio.create_task(self._poll_while_leader(stop, consumer))
            logger.info("Telegram bot @%s is running as consumer %s", self.application.bot.username, consumer)
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({stopping, deliveries, polling}, return_when=asyncio.FIRST_COMPLETED)
            stop.set()
            delivery.stop()
            await polling
            await deliveries  # re-raises if delivery died: better a restart than a silent bot
            await self.application.stop()
        finally:
            await self.application.shutdown()
            lock.close()
        return 0

    async def _poll_while_leader(self, stop: asyncio.Event, me: str) -> None:
        """Telegram serves getUpdates to one poller per token: the bot processes elect one in Redis.

        All of them deliver the outbox. ``me`` is stable across a restart on the same machine, so a
        restarted poller takes its lock back at once; otherwise another takes over when it expires.
        """
        updater = self.application.updater
        assert updater is not None
        lead = self.connection.register_script(LEAD_SCRIPT)
        polling = False
        try:
            while not stop.is_set():
                leading = bool(lead(keys=[POLL_LOCK], args=[me, POLL_LOCK_TTL_S]))
                if leading and not polling:
                    await updater.start_polling()
                    polling = True
                    logger.info("this process polls Telegram for updates")
                elif polling and not leading:
                    await updater.stop()
                    polling = False
                    logger.warning("another process took over polling Telegram")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL_LOCK_TTL_S / 3)
        finally:
            if polling:
                await updater.stop()
                self.connection.register_script(RELEASE_SCRIPT)(keys=[POLL_LOCK], args=[me])

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        answer = await asyncio.to_thread(self.commands.handle, message.text, _reply_to(message))
        await self._answer(message, answer)

    async def _on_media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A voice note or audio/video file: its caption may say /translate and lang=xx."""
        message = update.effective_message
        media = message and (message.voice or message.audio or message.video or message.video_note
                             or message.document)
        if message is None or not media:
            return
        task, language = caption_request(message.caption or "")
        if task not in {"transcribe", "translate"}:
            await message.reply_text(f"/{task} takes no file: caption it /transcribe or /translate, or leave "
                                     "the caption empty to transcribe it.", do_quote=True)
            return
        if media.file_size and media.file_size > DOWNLOAD_LIMIT:
            await message.reply_text(_too_big(media.file_size), do_quote=True)
            return
        try:
            file = await context.bot.get_file(media, read_timeout=DOWNLOAD_TIMEOUT_S)
            if file.file_size and file.file_size > DOWNLOAD_LIMIT:
                await message.reply_text(_too_big(file.file_size), do_quote=True)
                return
            data = bytes(await file.download_as_bytearray(read_timeout=DOWNLOAD_TIMEOUT_S))
        except NetworkError as exc:  # BadRequest "file is too big" too, when no size was announced
            logger.warning("downloading the file of message %s failed: %s", message.message_id, exc.message)
            too_big = isinstance(exc, BadRequest) and "too big" in exc.message
            await message.reply_text(_too_big(None) if too_big else "I could not fetch that file from Telegram; "
                                     "please send it again.", do_quote=True)
            return
        answer = await asyncio.to_thread(
            self.commands.transcribe_upload, task, _reply_to(message), data, _filename(media), language
        )
        await self._answer(message, answer)

    async def _answer(self, message: Message, answer: Answer) -> None:
        sent = await message.reply_text(answer.text, do_quote=True)
        if answer.job_id:
            self.acks.remember(answer.job_id, Ack(chat=str(sent.chat_id), message=str(sent.message_id)))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        if isinstance(error, TelegramError):
            logger.warning("Telegram error while handling an update: %s", error.message)
        else:
            logger.error("error while handling an update", exc_info=error)


def _reply_to(message: Message) -> ReplyTo:
    return ReplyTo(
        outbox=OUTBOX, chat=str(message.chat_id), message=str(message.message_id),
        user=str(message.from_user.id) if message.from_user else None,
    )


def caption_request(caption: str) -> tuple[str, str]:
    """`/translate lang=fi` as ("translate", "fi"); no command means /transcribe of Swedish."""
    words = caption.split()
    match = COMMAND.fullmatch(words[0]) if words else None
    if match is None:
        return "transcribe", "sv"
    language = "sv"
    for word in words[1:]:
        key, separator, value = word.partition("=")
        if separator and key.lower() in {"lang", "language"}:
            language = value
    return match.group(1).lower(), language


def _filename(media: Voice | Audio | Video | VideoNote | Document) -> str:
    """The name the transcript files are named after; voice and video notes have none."""
    if isinstance(media, Voice):
        return "voice-note.ogg"
    if isinstance(media, VideoNote):
        return "video-note.mp4"
    return media.file_name or ("video.mp4" if isinstance(media, Video) else "audio")


def _too_big(size: int | None) -> str:
    shown = f" is {size / 2**20:.1f} MB" if size else " is too big"
    return (f"That file{shown}; Telegram lets bots download files of up to {DOWNLOAD_LIMIT // 2**20} MB. "
            "Send a shorter clip, or a link to the video.")
