"""The Telegram front end: python-telegram-bot updates in, the "telegram" outbox out.

Handlers only translate: message text goes to :meth:`Commands.handle`, a voice note or audio/video
file to :mod:`bot.telegram_uploads` (which downloads it through the Bot API); the answer is sent as a
reply and remembered as the job's acknowledgement; :class:`bot.delivery.Delivery` sends the rest.
Updates come by long polling or webhook (:mod:`bot.telegram_receive`); the sends of all processes
of the token keep to Telegram's flood limits together (:mod:`bot.telegram_limiter`), which also
retries a 429 after its retry_after.
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
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatMemberStatus, ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from bot.commands import Answer, Commands
from bot.delivery import Ack, AckStore, Delivery, DeliveryError, RetryLater, Transient, Undeliverable, consumer_slot
from bot.metrics_telegram import MeteredRequest
from bot.platform import Buttons
from bot.quick import QuickAnswers
from bot.telegram_limiter import SharedRateLimiter
from bot.telegram_receive import Webhook, drop_repeats, receive
from bot.telegram_uploads import DOWNLOAD_LIMIT, LOCAL_DOWNLOAD_LIMIT, MEDIA, SPEECH_CAPTION, media_answer
from common.errors import StartupError
from common.jobs import ReplyTo
from common.outbox import OutboxReader
from models import MODELS

logger = logging.getLogger(__name__)

OUTBOX = "telegram"
PHOTO_LIMIT = 10 * 2**20  # larger pictures go as documents (up to upload_limit)


def command_list() -> list[BotCommand]:
    """The menu Telegram shows: one command per model in MODELS, then the others."""
    names = "|".join(MODELS)
    return [
        *(BotCommand(model.name, model.summary) for model in MODELS.values()),
        BotCommand("translate", "Swedish speech in a video or file, as English text: /translate <link>"),
        BotCommand("transcribe", "Swedish speech in a video or file, as Swedish text: /transcribe <link>"),
        BotCommand("subscribe", f"Daily monitoring picture here: /subscribe {names}|all"),
        BotCommand("unsubscribe", "Stop the daily monitoring pictures"),
        BotCommand("monitor", f"The monitoring picture now: /monitor {names}"),
        BotCommand("status", "Where your job is: /status <job>"),
        BotCommand("cancel", "Stop your job: /cancel <job>"),
        BotCommand("settings", "This chat's language, files and voice notes: /settings lang=fi"),
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

    async def send_text(self, reply: ReplyTo, ack: Ack | None, text: str, buttons: Buttons = ()) -> str:
        async with _mapped_errors():
            sent = await self.bot.send_message(
                int(reply.chat), text, reply_parameters=_replying(reply), reply_markup=_keyboard(buttons)
            )
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

    async def edit_text(self, ack: Ack, text: str, buttons: Buttons = ()) -> None:
        try:
            async with _mapped_errors():
                await self.bot.edit_message_text(
                    text, chat_id=int(ack.chat), message_id=int(ack.message), reply_markup=_keyboard(buttons)
                )
        except Undeliverable as exc:
            if "not modified" not in str(exc):
                raise

    async def show_activity(self, reply: ReplyTo) -> None:
        try:
            async with _mapped_errors():
                await self.bot.send_chat_action(int(reply.chat), ChatAction.UPLOAD_PHOTO)
        except DeliveryError as exc:  # only a sign of life: the answer follows anyway
            logger.info("chat action in %s not shown: %s", reply.chat, exc)


def _keyboard(buttons: Buttons) -> InlineKeyboardMarkup | None:
    """An inline keyboard of one row; None (no keyboard, and an edit removes the old one) without buttons."""
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in buttons]])


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


def namespace(token: str) -> str:
    """Redis keys of one bot: by its id, the token's public part before ':'."""
    return f"bot:telegram:{token.split(':')[0]}"


def build_application(
    token: str, api_url: str, local_mode: bool = False, connection: redis.Redis | None = None
) -> Application:
    """PTB as the bot runs it: a 429 is retried three times, then delivery's own path waits.

    With ``connection`` the sends are paced with every other process of the token (a process alone
    without Redis keeps PTB's AIORateLimiter).
    """
    limiter: BaseRateLimiter = (
        AIORateLimiter(max_retries=3) if connection is None
        else SharedRateLimiter(connection, namespace(token), max_retries=3)
    )
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(api_url)
        .base_file_url(api_url.removesuffix("/bot").rstrip("/") + "/file/bot")
        .local_mode(local_mode)  # a local server's getFile names a path on its disk: read from there
        .rate_limiter(limiter)
        .request(MeteredRequest(connection_pool_size=256)).get_updates_request(MeteredRequest())
        .concurrent_updates(True)
        .build()
    )


class TelegramBot:
    def __init__(
        self,
        token: str,
        api_url: str,
        commands: Commands,
        connection: redis.Redis,
        state_dir: Path,
        local_mode: bool = False,
        webhook: Webhook | None = None,
        quick_answer_s: float = 0.0,
    ) -> None:
        self.commands = commands
        self.webhook = webhook
        self.connection = connection
        self.state_dir = state_dir
        self.acks = AckStore(connection, OUTBOX)
        self.quick = QuickAnswers(connection, OUTBOX, quick_answer_s)
        self.application = build_application(token, api_url, local_mode, connection)
        drop_repeats(self.application, connection, namespace(token))
        self.download_limit = LOCAL_DOWNLOAD_LIMIT if local_mode else DOWNLOAD_LIMIT
        # Commands anywhere; in a private chat plain text too, so it gets the "start with a slash" hint.
        self.application.add_handler(
            MessageHandler(filters.TEXT & (filters.COMMAND | filters.ChatType.PRIVATE), self._on_message)
        )
        self.application.add_handler(
            MessageHandler(MEDIA, self._on_media)  # without a caption: as the chat's voice setting says
        )
        self.application.add_handler(CallbackQueryHandler(self._on_press))  # a button under an answer
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
            await self.application.bot.set_my_commands(command_list())
            await self.application.start()
            reader = OutboxReader(self.connection, OUTBOX, consumer=consumer)
            delivery = Delivery(TelegramPlatform(self.application), self.connection, reader)
            deliveries = asyncio.create_task(delivery.run())
            polling = asyncio.create_task(receive(self.application, self.connection, self.webhook, stop, consumer))
            logger.info("Telegram bot @%s is running as consumer %s", self.application.bot.username, consumer)
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({stopping, deliveries, polling}, return_when=asyncio.FIRST_COMPLETED)
            stop.set()
            delivery.stop()
            try:
                await polling  # re-raises a webhook that could not start
            finally:
                await deliveries  # re-raises if delivery died: better a restart than a silent bot
        finally:
            if self.application.running:
                await self.application.stop()
            await self.application.shutdown()
            lock.close()
        return 0

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        admin = await self._may_change_settings(message, context.bot)
        answer = await asyncio.to_thread(self.commands.handle, message.text, _reply_to(message), chat_admin=admin)
        await self._answer(message, answer)

    async def _may_change_settings(self, message: Message, bot: Bot) -> bool:
        """In a group, only its admins change /settings; asked of Telegram only for a change."""
        words = (message.text or "").split()
        if message.chat.type == ChatType.PRIVATE or len(words) < 2 or not words[0].lower().startswith("/settings"):
            return True
        if message.from_user is None:  # a channel post, or an anonymous admin's: no member to ask about
            return False
        try:
            member = await bot.get_chat_member(message.chat_id, message.from_user.id)
        except TelegramError as exc:
            logger.warning("could not ask Telegram who administers chat %s: %s", message.chat_id, exc.message)
            return False
        return member.status in {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}

    async def _on_media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        captioned = SPEECH_CAPTION.check_update(update)
        private = message.chat.type == ChatType.PRIVATE
        settings = await asyncio.to_thread(self.commands.chat_settings.get, _reply_to(message))
        if not captioned and not settings.transcribes_voice(private=private):
            return  # /settings voice=off, or a group that did not turn it on: the file is not for the bot
        answer = await media_answer(message, context.bot, self.commands, _reply_to(message), self.download_limit)
        if answer is not None:
            await self._answer(message, answer)

    async def _on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        message = query.message
        if not isinstance(message, Message):  # too old for Telegram to show the bot: nothing to answer under
            await query.answer("That message is too old; send the command again.")
            return
        reply = ReplyTo(outbox=OUTBOX, chat=str(message.chat_id), message=str(message.message_id),
                        user=str(query.from_user.id))
        answer = await asyncio.to_thread(self.commands.press, query.data or "", reply)
        if answer.job_id is None:  # a refusal or "Stopping job ...": a notice only the presser sees
            await query.answer(None if answer.quiet else answer.text[:200])
            return
        await query.answer()
        await self._answer(message, answer)

    async def _answer(self, message: Message, answer: Answer) -> None:
        if answer.quiet:
            return
        if answer.job_id and answer.quick and self.quick.window_s:  # the answer alone, if it comes in time
            await asyncio.to_thread(self.quick.hold, answer.job_id, _reply_to(message), answer.text)
            return
        sent = await message.reply_text(answer.text, do_quote=True, reply_markup=_keyboard(answer.buttons))
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
