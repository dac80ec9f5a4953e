"""Deliver one platform's outbox to its chats, whatever the platform.

The adapter supplies a :class:`Platform` (send text, send a file, edit the acknowledgement) and
maps its library's errors to :class:`RetryLater`, :class:`Transient` or :class:`Undeliverable`.
An outbox entry is acked only after the platform accepted every part of it. Each part (and each
piece of a split text) is remembered in Redis by job id and part name (:mod:`bot.delivered`), so a
restart continues with the next piece, and a job that ran twice is shown once.
Per job, the acknowledgement message is remembered in Redis (:class:`AckStore`): progress is
edited into it, throttled, and the results reply to the user's message. A quick job's
acknowledgement is held for about a second, and its answer sent alone if it comes (:mod:`bot.quick`).
Progress shows a Cancel button; a worker's buttons go under the last piece of its text (bot.presses).
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import IO, TypeVar

import redis

from bot.delivered import ANSWERED, DeliveredParts, InFlight, part_name
from bot.parts import Part, message_parts
from bot.platform import Ack as Ack
from bot.platform import AckStore as AckStore
from bot.platform import Buttons, DeliveryError, Platform, Undeliverable
from bot.platform import RetryLater as RetryLater
from bot.platform import Transient as Transient
from bot.presses import cancel_button, message_buttons
from bot.quick import QuickAnswers
from bot.replies import delivery_notice, message_text
from bot.text_split import clip
from common.jobs import OutboxMessage, ReplyTo
from common.outbox import OutboxReader

logger = logging.getLogger(__name__)

BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)
MAX_RETRY_AFTER_WAITS = 10
VERDICT = "verdict:0"  # the verdict's key in DeliveredParts (workers.predict names the part)
WATCH_INTERVAL_S = 0.05  # how often held acknowledgements are checked for their deadline
T = TypeVar("T")


def consumer_slot(lock_dir: Path, outbox: str) -> tuple[str, IO[str]]:
    """A consumer name stable across restarts on this machine: the first free numbered lock file.

    The kernel releases the lock when a process dies (SIGKILL included), so a restarted bot takes
    the same name and reads its unacked entries at once instead of waiting for them to go stale.
    The returned file must stay open as long as the name is in use.
    """
    lock_dir.mkdir(parents=True, exist_ok=True)
    slot = 0
    while True:
        handle = (lock_dir / f"{outbox}-consumer-{slot}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            slot += 1
            continue
        return f"{socket.gethostname()}-{slot}", handle


class Delivery:
    def __init__(
        self,
        platform: Platform,
        connection: redis.Redis,
        reader: OutboxReader,
        *,
        edit_interval_s: float = 3.0,
        ack_wait_s: float = 2.0,
    ) -> None:
        self.platform = platform
        self.connection = connection
        self.reader = reader
        self.acks = AckStore(connection, platform.name)
        self.delivered = DeliveredParts(connection, platform.name, reader.consumer)
        self.quick = QuickAnswers(connection, platform.name)
        self.edit_interval_s = edit_interval_s
        self.ack_wait_s = ack_wait_s
        self._last_edit: dict[str, float] = {}
        self._pending_edit: dict[str, str] = {}  # job -> newest progress text not shown yet
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        tasks = {asyncio.create_task(self._watch_held()), asyncio.create_task(self._deliver_outbox())}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # an error in either ends delivery: better a restart than a silent bot
        finally:
            for task in tasks:
                task.cancel()

    async def _deliver_outbox(self) -> None:
        while not self._stopping.is_set():
            try:
                entries = await asyncio.to_thread(self.reader.read, 500)
            except redis.exceptions.ConnectionError as exc:
                logger.warning("outbox unreachable, retrying in 1 s: %s", exc)
                await asyncio.sleep(1)
                continue
            by_chat: dict[str, list[tuple[str, OutboxMessage]]] = defaultdict(list)
            for entry_id, message in entries:
                by_chat[message.reply.chat].append((entry_id, message))
            # Chats are independent; within a chat the order of the stream is kept.
            await asyncio.gather(*(self._deliver_chat(batch) for batch in by_chat.values()))
            await self._flush_progress()

    async def _deliver_chat(self, batch: list[tuple[str, OutboxMessage]]) -> None:
        for entry_id, message in batch:
            try:
                await self.deliver(entry_id, message)
            except Undeliverable as exc:
                logger.warning("dropping outbox entry %s of job %s: %s", entry_id, message.job_id, exc)
            except InFlight as exc:
                # Another consumer sends it now (it claimed the entry while we waited): ours stays pending.
                logger.info("part %s of job %s is being sent by another bot", exc, message.job_id)
                return
            except DeliveryError as exc:
                # Left unacked: it is claimed again once stale; later entries wait to keep the order.
                logger.error("could not deliver entry %s of job %s: %s", entry_id, message.job_id, exc)
                return
            self.reader.ack(entry_id)

    async def deliver(self, entry_id: str, message: OutboxMessage) -> None:
        reply = message.reply
        if message.kind == "prediction" and not message.final and self.quick.park(message):
            return  # its acknowledgement is held: sent with the picture, or at the deadline (bot.quick)
        if message.kind == "progress" or (message.kind == "prediction" and not message.final):
            await self._show_in_ack(entry_id, message, reply)
            return
        key, name = self.delivered.key(message, entry_id), part_name(message)
        if message.kind == "failed" and self.delivered.answered(key):
            logger.info("job %s failed after its answer was delivered: not shown", message.job_id)
            return
        ack = self.acks.get(message.job_id)
        held = self.quick.take(message.job_id) if message.result is not None or message.kind == "failed" else None
        if held is not None:  # the first answer: one message (on Discord, the deferred response)
            ack = held.placeholder
            if held.verdict is not None and message.result is None:  # its render job failed: the verdict first
                verdict = clip(message_text(held.verdict), self.platform.text_limit)
                await self._send_once(key, VERDICT, reply, ack, verdict)
        # Noted with the last piece: the verdict was shown (a late one is dropped); the answer is complete.
        completes = [VERDICT] if message.result is not None and (ack is None or held is not None) else []
        completes += [ANSWERED] if message.final else []
        parts = await message_parts(message, self.connection, self.platform)
        # The worker's buttons go under the last piece of text (a transcript's, before its files).
        texts = [number for number, part in enumerate(parts) if isinstance(part, str)]
        for number, part in enumerate(parts):
            if self.delivered.claim(key, f"{name}:{number}"):  # else sent before: a rerun or a restart
                buttons = message_buttons(message) if texts and number == texts[-1] else ()
                await self._retrying(functools.partial(self._send_part, reply, ack, part, buttons))
                self.delivered.mark(key, f"{name}:{number}", *(completes if number == len(parts) - 1 else ()))
        if completes and not parts:
            self.delivered.mark(key, *completes)
        if held is not None:
            self.quick.done(message.job_id)
        if message.final:
            self._pending_edit.pop(message.job_id, None)
            self._last_edit.pop(message.job_id, None)
        if message.final and ack is not None and ack.shows == "progress":
            notice = delivery_notice(message)
            await self._retrying(lambda: self.platform.edit_text(ack, notice))  # its Cancel button goes
            self.acks.remember(message.job_id, replace(ack, shows="result"))

    async def _send_once(self, key: str, piece: str, reply: ReplyTo, ack: Ack | None, text: str) -> None:
        if self.delivered.claim(key, piece):
            await self._retrying(lambda: self.platform.send_text(reply, ack, text))
            self.delivered.mark(key, piece)

    async def _show_in_ack(self, entry_id: str, message: OutboxMessage, reply: ReplyTo) -> None:
        text = clip(message_text(message), self.platform.text_limit)
        # A verdict is a part of the answer, shown once; progress is only ever the newest state.
        key, piece = self.delivered.key(message, entry_id), f"{part_name(message)}:0"
        if message.kind != "progress" and not self.delivered.claim(key, piece):
            return  # shown before: the job ran twice, or the entry is read again after a restart
        ack = await self._wait_for_ack(message.job_id)
        buttons = cancel_button(message.job_id) if message.kind == "progress" and message.job_id else ()
        if ack is None:
            message_id = await self._retrying(lambda: self.platform.send_text(reply, None, text, buttons))
            if message.job_id:
                shows = "progress" if message.kind == "progress" else "result"
                self.acks.remember(message.job_id, Ack(reply.chat, message_id, shows=shows))
        elif message.kind == "progress":
            if time.monotonic() - self._last_edit.get(message.job_id, -1e9) < self.edit_interval_s:
                self._pending_edit[message.job_id] = text  # shown by _flush_progress when due
                return
            await self._edit(message.job_id, ack, text, "progress", buttons)
        else:
            self._pending_edit.pop(message.job_id, None)
            await self._edit(message.job_id, ack, text, "result")
        if message.kind != "progress":
            self.delivered.mark(key, piece)

    async def _edit(self, job_id: str, ack: Ack, text: str, shows: str, buttons: Buttons = ()) -> None:
        await self._retrying(lambda: self.platform.edit_text(ack, text, buttons))
        self._last_edit[job_id] = time.monotonic()
        self.acks.remember(job_id, replace(ack, shows=shows))

    async def _watch_held(self) -> None:
        """Held acknowledgements (bot.quick) at their upload action's time or their deadline."""
        while not self._stopping.is_set():
            try:
                for job_id in await asyncio.to_thread(self.quick.due_now):
                    await self._held_due(job_id)
            except redis.exceptions.ConnectionError as exc:
                logger.warning("held acknowledgements unreachable, retrying: %s", exc)
                await asyncio.sleep(1)
            except DeliveryError as exc:
                logger.error("a held acknowledgement could not be sent: %s", exc)
            await asyncio.sleep(WATCH_INTERVAL_S)

    async def _held_due(self, job_id: str) -> None:
        early, chat = self.quick.early(job_id)
        if early:
            if chat is not None:
                await self.platform.show_activity(chat)
            return
        held = self.quick.take(job_id)
        if held is None:
            return  # its answer came first, or another bot process took it
        key = self.delivered.job_key(job_id)
        try:
            if self.delivered.answered(key) or (held.verdict and not self.delivered.claim(key, VERDICT)):
                self.quick.done(job_id)  # taken again after a kill: what it was for is shown already
                return
        except InFlight:
            return  # another bot process sends the verdict now; the record is taken again after its lease
        # Past the window: from here it is a job like any other. The parked verdict, if any, is shown
        # now, in the message progress and the picture follow; else the acknowledgement.
        text = clip(message_text(held.verdict) if held.verdict else held.text, self.platform.text_limit)
        try:
            if held.placeholder is not None:
                ack = held.placeholder
                await self._retrying(lambda: self.platform.edit_text(ack, text))
            else:
                message_id = await self._retrying(lambda: self.platform.send_text(held.reply, None, text))
                ack = Ack(held.reply.chat, message_id)
        except Undeliverable:
            self.quick.done(job_id)  # the chat is gone, or the bot blocked
            raise
        except DeliveryError:
            self.quick.hold_again(job_id)  # the verdict it may hold lives only there: try again soon
            raise
        self.acks.remember(job_id, replace(ack, shows="result" if held.verdict else "ack"))
        if held.verdict is not None:
            self.delivered.mark(key, VERDICT)
        self.quick.done(job_id)

    async def _flush_progress(self) -> None:
        now = time.monotonic()
        for job_id, text in list(self._pending_edit.items()):
            if now - self._last_edit.get(job_id, -1e9) < self.edit_interval_s:
                continue
            del self._pending_edit[job_id]
            ack = self.acks.get(job_id)
            if ack is not None and ack.shows != "result":
                try:
                    await self._edit(job_id, ack, text, "progress", cancel_button(job_id))
                except DeliveryError as exc:
                    logger.info("progress of job %s not shown: %s", job_id, exc)

    async def _wait_for_ack(self, job_id: str) -> Ack | None:
        """The adapter stores the ack right after sending it; a fast worker's first message may beat it."""
        deadline = time.monotonic() + (self.ack_wait_s if job_id else 0)
        while (ack := self.acks.get(job_id)) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return ack

    async def _send_part(self, reply: ReplyTo, ack: Ack | None, part: Part, buttons: Buttons = ()) -> str:
        if isinstance(part, str):
            return await self.platform.send_text(reply, ack, part, buttons)
        data, filename, caption, picture = part
        return await self.platform.send_file(reply, ack, data, filename, caption, picture=picture)

    async def _retrying(self, action: Callable[[], Awaitable[T]]) -> T:
        """429s wait as long as the platform asks (never dropped); other failures back off, then give up."""
        waits = failures = 0
        while True:
            try:
                return await action()
            except RetryLater as exc:
                waits += 1
                if waits > MAX_RETRY_AFTER_WAITS:
                    raise
                logger.info("%s asked us to wait %.1f s", self.platform.name, exc.retry_after)
                await asyncio.sleep(exc.retry_after)
            except Transient as exc:
                if failures >= len(BACKOFF_S):
                    raise
                logger.info("%s: %s; retrying in %.1f s", self.platform.name, exc, BACKOFF_S[failures])
                await asyncio.sleep(BACKOFF_S[failures])
                failures += 1
