"""Webhook mode end to end: real PTB webhook servers in `python -m bot telegram`, the emulator posting.

The emulator plays Telegram and the reverse proxy: it records setWebhook and POSTs updates to the
bot processes' listen ports (round robin, retried on another process when one fails).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chat_fixtures import TELEGRAM_TOKEN
from tests.conftest import REPO
from tests.emulators.telegram_api import TelegramEmulator
from tests.helpers import refused_at_start, wait_for

URL = "https://bots.example.org/telegram/updates"
SECRET = "d6f1c0a5b7e94e2f8c3a_webhook-secret"
LISTENING = "takes Telegram's webhook posts"
REPEAT = "already handled by another process"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_webhook_bot(start_telegram_bot, api: TelegramEmulator) -> tuple[str, Path]:
    """One more bot process in webhook mode behind the emulator's proxy; its backend and log."""
    backend = f"127.0.0.1:{free_port()}"
    _, log = start_telegram_bot(
        TELEGRAM_WEBHOOK_URL=URL, TELEGRAM_WEBHOOK_LISTEN=backend, TELEGRAM_WEBHOOK_SECRET=SECRET
    )
    wait_for(lambda: LISTENING in log.read_text())
    api.pusher.backends.append(backend)
    return backend, log


def answers(api: TelegramEmulator, chat: int) -> list[int | None]:
    """What each of the bot's messages in ``chat`` replies to."""
    return [m.reply_to for m in api.chat(chat)]


def test_webhook_is_set_with_the_secret_and_posted_updates_are_answered(telegram_api, start_telegram_bot):
    """setWebhook gets the public URL and secret_token; no getUpdates; a user's command is answered."""
    start_webhook_bot(start_telegram_bot, telegram_api)
    hook = telegram_api.calls_of("setWebhook")[-1]
    assert hook.params["url"] == URL and hook.params["secret_token"] == SECRET
    asked = telegram_api.user_says("/help", chat_id=301)
    wait_for(lambda: answers(telegram_api, 301) == [asked])
    assert "/titanic" in telegram_api.chat(301)[0].text
    assert telegram_api.calls_of("getUpdates") == []


def test_a_post_without_the_secret_or_with_a_wrong_one_is_refused_and_not_processed(telegram_api, start_telegram_bot):
    """403 for a missing or wrong X-Telegram-Bot-Api-Secret-Token; only the genuine update is answered."""
    backend, _ = start_webhook_bot(start_telegram_bot, telegram_api)
    forged = telegram_api.message_update("/help", chat_id=302)
    assert telegram_api.push(forged, [backend], secret=None) == [403]
    assert telegram_api.push(telegram_api.message_update("/help", chat_id=302), [backend], secret="guess") == [403]
    genuine = telegram_api.message_update("/help", chat_id=302)
    assert telegram_api.push(genuine, [backend]) == [200]
    wait_for(lambda: telegram_api.chat(302))
    # The refused posts were never queued, so the genuine one's answer is the only one there will be.
    assert answers(telegram_api, 302) == [genuine["message"]["message_id"]]


def test_two_processes_behind_one_proxy_answer_an_update_posted_to_both_once(telegram_api, start_telegram_bot):
    """A retried POST reaches both processes: both take it (200), one answers, the other drops it."""
    first, first_log = start_webhook_bot(start_telegram_bot, telegram_api)
    second, second_log = start_webhook_bot(start_telegram_bot, telegram_api)
    update = telegram_api.message_update("/help", chat_id=303)
    assert telegram_api.push(update, [first, second]) == [200, 200]
    wait_for(lambda: REPEAT in first_log.read_text() + second_log.read_text())
    wait_for(lambda: telegram_api.chat(303))
    assert answers(telegram_api, 303) == [update["message"]["message_id"]]
    # Through the proxy, the processes share the users: every one answered once.
    asked = {chat: telegram_api.user_says("/help", chat_id=chat) for chat in range(400, 410)}
    wait_for(lambda: all(telegram_api.chat(chat) for chat in asked), timeout=30)
    assert {chat: answers(telegram_api, chat) for chat in asked} == {chat: [m] for chat, m in asked.items()}
    served = {push.backend for push in telegram_api.pusher.pushes if push.status == 200}
    assert served == {first, second}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TELEGRAM_WEBHOOK_URL": URL}, "TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL"),
        (
            {"TELEGRAM_WEBHOOK_URL": "http://bots.example.org/hook", "TELEGRAM_WEBHOOK_SECRET": SECRET},
            "TELEGRAM_WEBHOOK_URL must be an https:// URL",
        ),
        (
            {"TELEGRAM_WEBHOOK_URL": "https://bots.example.org:9000/hook", "TELEGRAM_WEBHOOK_SECRET": SECRET},
            "TELEGRAM_WEBHOOK_URL must be an https:// URL on port 443, 80, 88 or 8443",
        ),
        (
            {"TELEGRAM_WEBHOOK_URL": URL, "TELEGRAM_WEBHOOK_SECRET": "has spaces in it"},
            "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters",
        ),
        (
            {"TELEGRAM_WEBHOOK_URL": URL, "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_WEBHOOK_LISTEN": "8443"},
            "TELEGRAM_WEBHOOK_LISTEN must be host:port",
        ),
    ],
)
def test_a_bad_webhook_setting_stops_the_bot_at_start_naming_it(process_env, env, expected):
    """One line naming the variable, exit code 2, no traceback, the secret never echoed."""
    stderr = refused_at_start("telegram", {**process_env, "TELEGRAM_TOKEN": TELEGRAM_TOKEN, **env})
    assert expected in stderr
    assert env.get("TELEGRAM_WEBHOOK_SECRET", "\0") not in stderr


def test_a_listen_port_in_use_stops_the_bot_with_one_line(telegram_api, process_env):
    """Another program on TELEGRAM_WEBHOOK_LISTEN: the bot says so and exits, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **process_env,
            "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_API_URL": telegram_api.base_url,
            "TELEGRAM_WEBHOOK_URL": URL,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        }
        done = subprocess.run(
            [sys.executable, "-m", "bot", "telegram"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
        )
    assert done.returncode != 0
    assert f"cannot listen on TELEGRAM_WEBHOOK_LISTEN=127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr and SECRET not in done.stderr
