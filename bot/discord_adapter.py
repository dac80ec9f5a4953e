"""The Discord front end: slash commands in (typed options, synced at start), the "discord" outbox out.

Each command's options are turned back into the text command and passed to
:meth:`Commands.handle`, so parsing and validation stay in one place; a file attached to /transcribe
or /translate is read here and passed to :meth:`Commands.transcribe_upload`. The answer is the interaction
response (well inside Discord's 3 s window); results follow as follow-ups of the interaction while
its token lasts (15 minutes), later as channel messages replying to the acknowledgement.

The client is discord.py's AutoShardedClient: DISCORD_SHARDS gateway shards (one by default, or as
many as Discord recommends), of which this process runs DISCORD_SHARD_IDS (default all), so that
shards can be split over processes; the outbox is delivered by every process whatever its shards.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import discord
import redis
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from bot.commands import Answer, Commands
from bot.delivery import Ack, AckStore, Delivery, RetryLater, Transient, Undeliverable, consumer_slot
from bot.discord_commands import register as register_commands
from bot.discord_identify import identify_turn
from bot.metrics_discord import trace_config
from bot.platform import Buttons
from bot.quick import QuickAnswers
from common.errors import StartupError
from common.jobs import ReplyTo
from common.outbox import OutboxReader
from common.queues import TRANSCRIBE

logger = logging.getLogger(__name__)

OUTBOX = "discord"
TOKEN_LIFETIME_S = 14 * 60  # an interaction token works for 15 minutes; keep a margin
# Attachments are read whole into memory and stored in Redis: 25 MB is the most Discord lets anyone
# without Nitro upload; bigger files (Nitro allows up to 500 MB) are refused before reading.
UPLOAD_LIMIT = 25 * 2**20


class DiscordPlatform:
    """:class:`bot.delivery.Platform` for Discord."""

    name = OUTBOX
    text_limit = 2000
    caption_limit = 2000
    upload_limit = 10 * 2**20

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def send_text(self, reply: ReplyTo, ack: Ack | None, text: str, buttons: Buttons = ()) -> str:
        if buttons:
            return await self._send(reply, ack, content=text, view=_view(buttons))
        return await self._send(reply, ack, content=text)

    async def send_file(
        self, reply: ReplyTo, ack: Ack | None, data: bytes, filename: str, caption: str, *, picture: bool
    ) -> str:
        return await self._send(reply, ack, content=caption or None, file=discord.File(io.BytesIO(data), filename))

    async def show_activity(self, reply: ReplyTo) -> None:
        """Nothing to add: the deferred interaction response already shows "thinking"."""

    async def edit_text(self, ack: Ack, text: str, buttons: Buttons = ()) -> None:
        view = _view(buttons) if buttons else None  # None: the message's buttons go
        async with _mapped_errors():
            if _token_alive(ack):
                # The ack is the interaction's original response, which Discord addresses as @original.
                await self._webhook(ack).edit_message("@original", content=text, view=view)  # type: ignore[call-overload]
            else:
                channel = self.client.get_partial_messageable(int(ack.chat))
                await channel.get_partial_message(int(ack.message)).edit(content=text, view=view)

    async def _send(self, reply: ReplyTo, ack: Ack | None, **message: object) -> str:
        async with _mapped_errors():
            if ack is not None and _token_alive(ack):
                sent = await self._webhook(ack).send(wait=True, **message)  # type: ignore[call-overload]
            else:
                reference = None
                if ack is not None:
                    reference = discord.MessageReference(
                        message_id=int(ack.message), channel_id=int(ack.chat), fail_if_not_exists=False
                    )
                channel = self.client.get_partial_messageable(int(reply.chat))
                sent = await channel.send(reference=reference, **message)  # type: ignore[call-overload]
        return str(sent.id)

    def _webhook(self, ack: Ack) -> discord.Webhook:
        return discord.Webhook.partial(int(ack.app or 0), ack.token or "", client=self.client)


def _view(buttons: Buttons) -> discord.ui.View:
    """One row of buttons whose custom_id is the press's data (bot/presses.py).

    The view is stopped before it is sent, so that discord.py keeps no state per message: a press
    arrives in on_interaction, in whichever bot process claims it, also after a restart.
    """
    view = discord.ui.View(timeout=None)
    for label, data in buttons:
        view.add_item(discord.ui.Button(label=label, custom_id=data, style=discord.ButtonStyle.secondary))
    view.stop()
    return view


def _token_alive(ack: Ack) -> bool:
    return bool(ack.token and ack.app and ack.expires and time.time() < ack.expires)


@contextlib.asynccontextmanager
async def _mapped_errors() -> AsyncIterator[None]:
    """discord.py retries 429s and 5xx itself; what still comes out is mapped to delivery's errors."""
    try:
        yield
    except discord.RateLimited as exc:
        raise RetryLater(exc.retry_after) from exc
    except discord.DiscordServerError as exc:
        raise Transient(f"{exc.status} {exc.text}") from exc
    except discord.HTTPException as exc:
        if exc.status == 429:  # still limited after the library's five tries (or no Via): wait, never drop
            raise RetryLater(_retry_after(exc.response)) from exc
        raise Undeliverable(f"{exc.status} {exc.text}") from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Transient(str(exc) or type(exc).__name__) from exc


def _retry_after(response: aiohttp.ClientResponse | Any) -> float:
    """Seconds to wait from a 429's headers (Discord sends both); 1 s where there are none."""
    headers = getattr(response, "headers", None) or {}
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        with contextlib.suppress(KeyError, TypeError, ValueError):
            return max(0.0, float(headers[name]))
    return 1.0


class _Client(discord.AutoShardedClient):
    def __init__(self, bot: DiscordBot) -> None:
        # Slash commands need no privileged intents; guild_ready_timeout only delays on_ready.
        super().__init__(
            intents=discord.Intents(guilds=True), guild_ready_timeout=0.5, shard_count=bot.shard_count,
            http_trace=trace_config(),
            shard_ids=list(bot.shard_ids) if bot.shard_ids else None,  # type: ignore[arg-type]  # None: all
        )
        self.bot = bot
        self.tree = app_commands.CommandTree(self)
        self.tree.error(self._on_tree_error)
        register_commands(self.tree, bot.ask, bot.speech, UPLOAD_LIMIT)
        self.delivery: Delivery | None = None
        self.deliveries: asyncio.Task[None] | None = None
        self.max_concurrency = 1  # sessions Discord starts per 5 s; read from /gateway/bot at start

    async def setup_hook(self) -> None:
        await self.tree.sync()
        self.max_concurrency = (await self.fetch_session_start_limits()).max_concurrency
        reader = OutboxReader(self.bot.connection, OUTBOX, consumer=self.bot.consumer)
        self.delivery = Delivery(DiscordPlatform(self), self.bot.connection, reader)
        self.deliveries = asyncio.create_task(self.delivery.run())
        self.deliveries.add_done_callback(self._delivery_ended)
        logger.info("Discord commands synced; delivering as consumer %s", self.bot.consumer)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # Instead of discord.py's 5 s between this process's shards: turns shared with every process.
        await identify_turn(self.bot.connection, f"bot:discord:{self.application_id}", shard_id or 0,
                            self.max_concurrency)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type == discord.InteractionType.component:  # a button under one of our messages
            await self.bot.press(interaction, str((interaction.data or {}).get("custom_id", "")))

    async def on_shard_ready(self, shard_id: int) -> None:
        logger.info("Discord shard %s of %s is ready", shard_id, self.shard_count)

    def _delivery_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("outbox delivery stopped", exc_info=task.exception())
            asyncio.get_running_loop().create_task(self.close())  # better a restart than a silent bot

    async def close(self) -> None:
        if self.delivery is not None and self.deliveries is not None:
            self.delivery.stop()
            with contextlib.suppress(Exception):
                await self.deliveries
        await super().close()

    async def _on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        logger.error("slash command /%s failed", interaction.command.name if interaction.command else "?",
                     exc_info=error)
        if not interaction.response.is_done():
            await interaction.response.send_message("Sorry, something went wrong; please try again.")


class DiscordBot:
    def __init__(
        self, token: str, api_url: str, gateway_url: str | None, commands: Commands,
        connection: redis.Redis, state_dir: Path, *, defer_after_s: float = 2.0,
        shard_count: int | None = 1, shard_ids: tuple[int, ...] | None = None, quick_answer_s: float = 0.0,
    ) -> None:
        self.token = token
        self.shard_count, self.shard_ids = shard_count, shard_ids  # None: Discord's count; all shards
        self.defer_after_s = defer_after_s
        self.client: _Client | None = None
        self.api_url = api_url.rstrip("/")
        self.gateway_url = gateway_url
        self.commands = commands
        self.connection = connection
        self.state_dir = state_dir
        self.acks = AckStore(connection, OUTBOX)
        self.quick = QuickAnswers(connection, OUTBOX, quick_answer_s)
        self.consumer = ""

    def run(self) -> int:
        return asyncio.run(self._serve())

    async def _serve(self) -> int:
        # discord.py has no per-client setting for these; they must be set before it connects.
        discord.http.Route.BASE = self.api_url
        if self.gateway_url:
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice here: no warning
        self.consumer, lock = consumer_slot(self.state_dir, OUTBOX)
        self.client = client = _Client(self)
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, lambda: asyncio.ensure_future(client.close()))
        try:
            async with client:
                await client.start(self.token)
        except discord.LoginFailure:
            raise StartupError("Discord refused DISCORD_TOKEN: copy it from the application's Bot page") from None
        finally:
            lock.close()
        failed = client.deliveries is not None and not client.deliveries.cancelled() and client.deliveries.exception()
        return 1 if failed else 0

    async def ask(self, interaction: discord.Interaction, text: str) -> None:
        # /settings changes: a server's members with Manage Server; anyone in a direct message.
        admin = interaction.guild_id is None or interaction.permissions.manage_guild
        await self._answer(
            interaction, lambda reply: asyncio.to_thread(self.commands.handle, text, reply, chat_admin=admin)
        )

    async def press(self, interaction: discord.Interaction, data: str) -> None:
        """A button: its job's answer in the channel; a refusal or "Stopping job ..." to the presser only."""
        await self._answer(
            interaction, lambda reply: asyncio.to_thread(self.commands.press, data, reply), private_notes=True
        )

    async def speech(
        self, interaction: discord.Interaction, task: str, link: str | None, file: discord.Attachment | None,
        language: str | None,
    ) -> None:
        """/transcribe or /translate with a link (the text command) or an attached audio/video file."""
        if file is None:
            words = [f"/{task}", link or "", f"lang={language}" if language else ""]
            await self.ask(interaction, " ".join(word for word in words if word))
            return
        refusal = None
        if link is not None:
            refusal = f"/{task} takes a link or a file, not both."
        elif file.size > UPLOAD_LIMIT:
            refusal = (f"That file is {file.size / 2**20:.1f} MB; I take files of up to {UPLOAD_LIMIT // 2**20} MB. "
                       "Send a shorter clip, or a link to the video.")
        elif file.content_type and not file.content_type.startswith(("audio/", "video/")):
            refusal = f"{file.filename[:60]} is not an audio or video file."
        if refusal is not None:
            refused = Answer(refusal)
            await self._answer(interaction, lambda reply: _answered(refused))
            return

        async def upload(reply: ReplyTo) -> Answer:
            refused = await asyncio.to_thread(self.commands.admit, reply, TRANSCRIBE)  # before reading, not after
            if refused is not None:
                return refused
            try:
                data = await file.read()
            except (discord.HTTPException, aiohttp.ClientError) as exc:
                logger.warning("reading attachment %s failed: %s", file.id, exc)
                return Answer("I could not fetch that file from Discord; please send it again.")
            return await asyncio.to_thread(
                self.commands.transcribe_upload, task, reply, data, file.filename, language or "sv", admitted=True
            )

        await self._answer(interaction, upload)

    async def _answer(
        self, interaction: discord.Interaction, work: Callable[[ReplyTo], Awaitable[Answer]], *,
        private_notes: bool = False,
    ) -> None:
        # Every connected bot process gets each interaction: the first to claim it answers.
        if not self.connection.set(f"interaction:{interaction.id}", self.consumer, nx=True, ex=TOKEN_LIFETIME_S):
            return
        reply = ReplyTo(outbox=OUTBOX, chat=str(interaction.channel_id), message=str(interaction.id),
                        user=str(interaction.user.id))
        handling = asyncio.ensure_future(work(reply))
        try:
            answer = await asyncio.wait_for(asyncio.shield(handling), self.defer_after_s)
        except TimeoutError:
            # A slow answer (a link's DNS lookup, reading a file, a busy Redis) must not miss Discord's 3 s window.
            await interaction.response.defer(thinking=True)
            answer = await handling
            view = _view(answer.buttons) if answer.buttons else None
            edited = await interaction.edit_original_response(content=answer.text, view=view)
            message_id: int | None = edited.id
        else:
            if answer.job_id and answer.quick and self.quick.window_s:
                # "Thinking..." answers within the 3 s; the answer fills it (bot.quick), else the ack does.
                deferred = await interaction.response.defer(thinking=True)
                placeholder = self._ack(interaction, deferred.message_id if deferred else None)
                await asyncio.to_thread(self.quick.hold, answer.job_id, reply, answer.text, placeholder)
                return
            if answer.quiet or (private_notes and answer.job_id is None):
                # An interaction must be answered: this refusal only its sender sees.
                await interaction.response.send_message(answer.text, ephemeral=True)
                return
            if answer.buttons:
                sent = await interaction.response.send_message(answer.text, view=_view(answer.buttons))
            else:
                sent = await interaction.response.send_message(answer.text)
            message_id = sent.message_id
        if answer.job_id and message_id is not None:
            self.acks.remember(answer.job_id, self._ack(interaction, message_id))

    def _ack(self, interaction: discord.Interaction, message_id: int | None) -> Ack:
        return Ack(
            chat=str(interaction.channel_id), message=str(message_id or ""), token=interaction.token,
            app=str(interaction.application_id), expires=time.time() + TOKEN_LIFETIME_S,
        )


async def _answered(answer: Answer) -> Answer:
    return answer
