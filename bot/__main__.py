"""python -m bot console|telegram|discord: run one chat front end."""

from __future__ import annotations

import argparse
import logging

from bot.commands import Commands
from common.connection import connect
from common.entrypoint import configure_logging, run
from common.queues import JobQueue
from common.settings import load_settings


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Run a chat front end for the ML jobs.")
    parser.add_argument("platform", choices=["console", "telegram", "discord"])
    args = parser.parse_args()
    # The console shares the terminal with the user: only warnings go to stderr there.
    configure_logging(logging.WARNING if args.platform == "console" else logging.INFO)
    settings = load_settings()
    connection = connect(settings.redis.REDIS_URL, settings.storage.DATA_DIR)
    commands = Commands(JobQueue(connection))
    if args.platform == "console":
        from bot.console import ConsoleBot

        return ConsoleBot(commands, connection, settings.storage.DATA_DIR / "console").run()
    raise NotImplementedError(args.platform)


if __name__ == "__main__":
    run(main, "bot")
