"""python -m bot console|telegram|discord: run one chat front end."""

from __future__ import annotations

import argparse
import logging
import threading

from pydantic import SecretStr

from bot.access import Access, AccessRules
from bot.commands import Commands
from bot.limits import LimitOptions, Limits
from bot.queue_watch import QueueWatch
from bot.redaction import redact_logs
from common.connection import connect, redact, resolve_url
from common.entrypoint import configure_logging, run
from common.errors import SettingsError
from common.metrics.serve import serve_metrics
from common.queues import JobQueue
from common.settings import load_settings
from common.subscriptions import Subscriptions, from_settings
from common.video_links import LinkPolicy
from models import MODELS, load_extra


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Run a chat front end for the ML jobs.")
    parser.add_argument("platform", nargs="?", choices=["console", "telegram", "discord"])
    parser.add_argument("--check", action="store_true",
                        help="check Redis (and the platform's token setting), print the result and exit "
                        "(non-zero when something is not usable)")
    args = parser.parse_args()
    if args.check:
        from bot.health import check

        return check(args.platform)
    if args.platform is None:
        parser.error("the platform is required: console, telegram or discord")
    # The console shares the terminal with the user: only warnings go to stderr there.
    configure_logging(logging.WARNING if args.platform == "console" else logging.INFO)
    settings = load_settings()
    load_extra(settings.models.extra_models)  # before the commands and their lists are built
    # A missing token stops the process before anything else starts.
    if args.platform == "telegram":
        token = _required(settings.telegram.TELEGRAM_TOKEN, "TELEGRAM_TOKEN", "create a bot with @BotFather")
    elif args.platform == "discord":
        token = _required(settings.discord.DISCORD_TOKEN, "DISCORD_TOKEN", "see the application's Bot page")
    url = resolve_url(settings.redis.REDIS_URL, settings.storage.DATA_DIR)  # the embedded server's, if unset
    connection = connect(url, settings.storage.DATA_DIR)
    queue = JobQueue(connection)
    serve_metrics(settings.metrics)  # METRICS_LISTEN unset: nothing
    # Chat users share the workers: each gets a rate limit. The console is its operator's own.
    limits = None if args.platform == "console" else Limits(connection, queue, LimitOptions(
        jobs_per_window=settings.limits.USER_JOBS_PER_MINUTE, max_queue_length=settings.limits.MAX_QUEUE_LENGTH
    ))
    fixed = from_settings(settings.monitor.telegram_chats, settings.monitor.discord_channels)
    subscriptions = Subscriptions(connection, fixed, models=tuple(MODELS))
    # The console's user is its operator: tell them how to start a missing worker.
    watch = QueueWatch(connection, start_hint=args.platform == "console")
    commands = Commands(
        queue, LinkPolicy.from_settings(settings.video), subscriptions=subscriptions, limits=limits,
        watch=watch, access=Access(connection, AccessRules.from_settings(settings.access)),
    )
    if args.platform == "console":
        from bot.console import ConsoleBot

        return ConsoleBot(commands, connection, settings.storage.DATA_DIR / "console", redis_url=redact(url)).run()
    watch.watch(args.platform, threading.Event())  # jobs of this platform that wait far too long
    redact_logs(token)
    state_dir = settings.storage.DATA_DIR / "bot"
    if args.platform == "telegram":
        from bot.telegram import TelegramBot
        from bot.telegram_receive import Webhook

        telegram = settings.telegram
        webhook = None
        if telegram.TELEGRAM_WEBHOOK_URL and telegram.TELEGRAM_WEBHOOK_SECRET:
            secret = telegram.TELEGRAM_WEBHOOK_SECRET.get_secret_value()
            redact_logs(secret)
            webhook = Webhook(telegram.TELEGRAM_WEBHOOK_URL, *telegram.webhook_listen, secret)
        return TelegramBot(
            token, telegram.TELEGRAM_API_URL, commands, connection, state_dir, local_mode=telegram.TELEGRAM_LOCAL_MODE,
            webhook=webhook, quick_answer_s=settings.limits.QUICK_ANSWER_S,
        ).run()
    from bot.discord_adapter import DiscordBot

    discord = settings.discord
    return DiscordBot(
        token, discord.DISCORD_API_URL, discord.DISCORD_GATEWAY_URL, commands, connection, state_dir,
        shard_count=discord.shard_count, shard_ids=discord.shard_ids, quick_answer_s=settings.limits.QUICK_ANSWER_S,
    ).run()


def _required(secret: SecretStr | None, name: str, hint: str) -> str:
    if secret is None:
        raise SettingsError(f"{name} is not set: {hint}")
    return secret.get_secret_value()


if __name__ == "__main__":
    run(main, "bot")
