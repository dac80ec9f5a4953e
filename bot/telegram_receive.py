"""How Telegram's updates reach the bot processes: long polling by one elected process, or webhooks.

Polling: Telegram serves getUpdates to one poller per token, so the processes elect one in Redis
(all of them deliver the outbox). Webhook: Telegram POSTs each update to TELEGRAM_WEBHOOK_URL and a
reverse proxy spreads them over the processes, each running PTB's own webhook server; a request
without the secret header is refused (403) by PTB before anything is read. Either way an update
may arrive twice (a POST the proxy retried on another process, a poller taking over before the
last one confirmed its updates): :func:`drop_repeats` lets only the first process that claims an
update_id in Redis handle it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, TypeHandler

from common.errors import StartupError

logger = logging.getLogger(__name__)

POLL_LOCK = "bot:telegram:poller"
POLL_LOCK_TTL_S = 30
# Long enough for any retry of a POST by the proxy or Telegram; short enough to keep Redis small.
SEEN_TTL_S = 3600
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


@dataclass(frozen=True)
class Webhook:
    """Webhook mode: the public URL Telegram posts to, where this process listens, and the secret."""

    url: str
    host: str
    port: int
    secret: str

    @property
    def path(self) -> str:
        """The proxy forwards the public URL's path unchanged, so PTB serves that path."""
        return urlsplit(self.url).path or "/"


def drop_repeats(application: Application, connection: redis.Redis, namespace: str) -> None:
    """Before every other handler: an update some process already claimed goes no further."""

    async def claim(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        key = f"{namespace}:update:{update.update_id}"
        if not await asyncio.to_thread(connection.set, key, 1, nx=True, ex=SEEN_TTL_S):
            logger.info("update %s was already handled by another process: dropped", update.update_id)
            raise ApplicationHandlerStop

    application.add_handler(TypeHandler(Update, claim), group=-1)


async def receive(
    application: Application, connection: redis.Redis, webhook: Webhook | None, stop: asyncio.Event, me: str
) -> None:
    """Feed updates into ``application`` until ``stop`` is set."""
    if webhook is None:
        await _poll_while_leader(application, connection, stop, me)
        return
    updater = application.updater
    assert updater is not None
    # Every process sets the same webhook (harmless); stopping one leaves it set for the others.
    try:
        await updater.start_webhook(
            listen=webhook.host,
            port=webhook.port,
            url_path=webhook.path,
            webhook_url=webhook.url,
            secret_token=webhook.secret,
            bootstrap_retries=3,
        )
    except OSError as exc:
        raise StartupError(
            f"cannot listen on TELEGRAM_WEBHOOK_LISTEN={webhook.host}:{webhook.port}: {exc.strerror or exc}"
        ) from None
    except TelegramError as exc:
        raise StartupError(f"Telegram refused the webhook TELEGRAM_WEBHOOK_URL={webhook.url}: {exc.message}") from None
    logger.info("this process takes Telegram's webhook posts on %s:%s%s", webhook.host, webhook.port, webhook.path)
    try:
        await stop.wait()
    finally:
        await updater.stop()


async def _poll_while_leader(application: Application, connection: redis.Redis, stop: asyncio.Event, me: str) -> None:
    """Poll while this process holds the lock.

    ``me`` is stable across a restart on the same machine, so a restarted poller takes its lock
    back at once; otherwise another takes over when it expires.
    """
    updater = application.updater
    assert updater is not None
    lead = connection.register_script(LEAD_SCRIPT)
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
            connection.register_script(RELEASE_SCRIPT)(keys=[POLL_LOCK], args=[me])
