"""Settings -> the web process: Redis, the bots' Commands with their limits, the outbox pump, the app."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import IO

import uvicorn
from fastapi import FastAPI

from bot.access import Access, AccessRules
from bot.commands import Commands
from bot.delivery import consumer_slot
from bot.limits import LimitOptions, Limits
from bot.queue_watch import QueueWatch
from common.backends import feature_store
from common.connection import connect, resolve_url
from common.metrics.serve import serve_metrics
from common.outbox import OutboxReader
from common.queues import JobQueue
from common.settings import Settings, load_settings
from common.subscriptions import Subscriptions, from_settings
from common.video_links import LinkPolicy
from models import MODELS, load_extra
from web.app import build_app
from web.results import OUTBOX, OutboxPump, Results
from web.service import WebService
from web.users import Users

logger = logging.getLogger(__name__)


@dataclass
class Built:
    settings: Settings
    app: FastAPI
    pump: OutboxPump
    slot: IO[str]  # the consumer name's lock file, held while the process runs

    @property
    def url(self) -> str:
        return self.settings.web.url


def build(settings: Settings | None = None) -> Built:
    settings = settings or load_settings()
    settings.web.check_exposure()
    load_extra(settings.models.extra_models)
    users = Users.load(settings.web.WEB_USERS) if settings.web.WEB_USERS else None
    connection = connect(resolve_url(settings.redis.REDIS_URL, settings.storage.DATA_DIR), settings.storage.DATA_DIR)
    queue = JobQueue(connection)
    # Web users share the workers like chat users: the same per-user limit and queue cap.
    limits = Limits(connection, queue, LimitOptions(
        jobs_per_window=settings.limits.USER_JOBS_PER_MINUTE, max_queue_length=settings.limits.MAX_QUEUE_LENGTH
    ))  # fmt: skip
    fixed = from_settings(settings.monitor.telegram_chats, settings.monitor.discord_channels)
    commands = Commands(
        queue, LinkPolicy.from_settings(settings.video), limits=limits, watch=QueueWatch(connection),
        subscriptions=Subscriptions(connection, fixed, models=tuple(MODELS)),
        access=Access(connection, AccessRules.from_settings(settings.access)),
    )
    service = WebService(commands, connection, logins=users is not None, public=settings.web.WEB_PUBLIC)
    # A name per process that a restart on this machine takes again (the bots' scheme): its unread
    # entries are read at once instead of waiting to be claimed as stale.
    consumer, slot = consumer_slot(settings.storage.DATA_DIR / "web", OUTBOX)
    pump = OutboxPump(OutboxReader(connection, OUTBOX, consumer=consumer), Results(connection))
    store = feature_store(settings)  # where the scheduler writes each model's history
    auth = users.check if users else None
    app = build_app(service, store.read_history, auth=auth, root_path=settings.web.WEB_ROOT_PATH)
    return Built(settings, app, pump, slot)


def serve(built: Built) -> int:
    serve_metrics(built.settings.metrics)  # METRICS_LISTEN unset: nothing
    built.pump.start()
    web = built.settings.web
    behind = f" (behind a proxy at {web.WEB_ROOT_PATH}/)" if web.WEB_ROOT_PATH else ""
    logger.info("serving the web front end at %s%s", built.url, behind)
    try:
        uvicorn.run(built.app, host=web.host, port=web.port, log_level="warning", proxy_headers=True)
    finally:
        built.pump.stop()
    return 0
