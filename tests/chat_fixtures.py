"""Fixtures for the chat platforms: the emulators and the bot processes that talk to them.

A pytest plugin (listed in ``tests/conftest.py``'s ``pytest_plugins``) rather than fixtures
imported into each test module, which ruff reports as redefinitions (F811) where a test takes
them as arguments. Test modules import only the constants.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.emulators.discord_api import DiscordEmulator
from tests.emulators.telegram_api import TelegramEmulator
from tests.helpers import stop_process, wait_for

TELEGRAM_TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ao"
DISCORD_TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GhIjKl.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
StartTelegram = Callable[..., tuple[subprocess.Popen[bytes], Path]]
StartDiscord = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def telegram_api() -> Iterator[TelegramEmulator]:
    api = TelegramEmulator(TELEGRAM_TOKEN).start()
    yield api
    api.stop()


@pytest.fixture
def discord_api() -> Iterator[DiscordEmulator]:
    api = DiscordEmulator(DISCORD_TOKEN).start()
    yield api
    api.stop()


@pytest.fixture
def start_telegram_bot(
    telegram_api: TelegramEmulator, process_env: dict[str, str], tmp_path: Path
) -> Iterator[StartTelegram]:
    """Start `python -m bot telegram` against the emulator; returns (process, log path).

    It waits until the bot has registered its commands (``wait=False``: not at all). At the end
    every process is stopped and no log may hold the token or a traceback.
    """
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(wait: bool = True, **env: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / f"telegram-bot-{len(processes)}.log"
        environment = {**process_env, "TELEGRAM_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_API_URL": telegram_api.base_url,
                       **env}
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "bot", "telegram"], env=environment, cwd=REPO,
                                       stdout=out, stderr=subprocess.STDOUT)
        processes.append((process, log))
        if wait:
            started = len(telegram_api.calls_of("setMyCommands"))
            wait_for(lambda: len(telegram_api.calls_of("setMyCommands")) > started or process.poll() is not None)
            assert process.poll() is None, log.read_text()
        return process, log

    yield start
    for process, _ in processes:
        stop_process(process, timeout=10)
    for _, log in processes:
        _assert_clean_log(log, TELEGRAM_TOKEN.split(":")[1])


@pytest.fixture
def start_discord_bot(
    discord_api: DiscordEmulator, process_env: dict[str, str], tmp_path: Path
) -> Iterator[StartDiscord]:
    """Start `python -m bot discord` against the emulator and wait until it has identified on the gateway."""
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        log = tmp_path / f"discord-bot-{len(processes)}.log"
        environment = {**process_env, "DISCORD_TOKEN": DISCORD_TOKEN, "DISCORD_API_URL": discord_api.api_url,
                       "DISCORD_GATEWAY_URL": discord_api.gateway_url, **env}
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "bot", "discord"], env=environment, cwd=REPO,
                                       stdout=out, stderr=subprocess.STDOUT)
        processes.append((process, log))
        identified = len(discord_api.identified)
        wait_for(lambda: len(discord_api.identified) > identified or process.poll() is not None)
        assert process.poll() is None, log.read_text()
        return process

    yield start
    for process, _ in processes:
        stop_process(process, timeout=10)
    for _, log in processes:
        _assert_clean_log(log, DISCORD_TOKEN.split(".")[2])


def _assert_clean_log(log: Path, secret: str) -> None:
    text = log.read_text()
    assert secret not in text, f"the token leaked into {log.name}"
    assert "Traceback" not in text, text
