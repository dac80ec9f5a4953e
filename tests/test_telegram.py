"""`python -m bot telegram` end to end: the real python-telegram-bot against the local Bot API emulator."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable

import pytest

from common import artifacts, outbox
from common.jobs import OutboxMessage, ReplyTo
from tests.conftest import REPO
from tests.emulators.telegram_api import TelegramEmulator
from tests.helpers import png, wait_for

CHAT = 111
TITANIC = "/titanic pclass=1 sex=female age=29 sibsp=0 parch=0 fare=80 embarked=C"


def post(connection, **fields) -> None:
    reply = ReplyTo(outbox="telegram", chat=str(CHAT), message="77")
    outbox.post(connection, OutboxMessage(reply=reply, **fields))


def photos(api: TelegramEmulator) -> Callable[[], list]:
    return lambda: [m for m in api.chat(CHAT) if m.photo is not None]


@pytest.mark.slow
def test_titanic_gets_ack_edit_and_photo_with_verdict_replying_to_the_user(
    telegram_api, start_telegram_bot, worker_process
):
    """/titanic: an ack with the queue place, edited to the verdict, then a photo captioned with it."""
    start_telegram_bot(QUICK_ANSWER_S="0")  # the acknowledgement and its edits (one message: tests/test_quick.py)
    assert [c["command"] for c in telegram_api.commands] == [
        "iris", "titanic", "translate", "transcribe", "subscribe", "unsubscribe", "monitor", "status", "cancel",
        "settings", "help"]
    asked = telegram_api.user_says(TITANIC, chat_id=CHAT)
    photo = wait_for(photos(telegram_api), timeout=40)[0]
    ack = telegram_api.chat(CHAT)[0]
    assert ack.reply_to == asked and photo.reply_to == asked
    assert ack.edits[0].startswith(("Queued as job", "Working on it"))
    verdict = "Titanic: a 1st-class woman of 29 would have survived"
    assert photo.caption.startswith(verdict)
    assert photo.photo[:8] == b"\x89PNG\r\n\x1a\n"
    wait_for(lambda: len(ack.edits) > 1)
    assert ack.edits[-1].startswith(verdict)  # the progress edit: the verdict shows in the ack
    assert len(telegram_api.chat(CHAT)) == 2  # ack and photo, nothing else
    telegram_api.user_says("/iris 6.7 3.0 5.2 2.3", chat_id=222)
    iris = wait_for(lambda: [m for m in telegram_api.chat(222) if m.photo is not None], timeout=20)[0]
    assert iris.caption.startswith("Iris: virginica")


def test_bad_command_is_answered_at_once_and_help_lists_commands(telegram_api, start_telegram_bot, connection):
    """Wrong input is answered as a reply without queueing anything; /help@bot answers the help text."""
    start_telegram_bot()
    asked = telegram_api.user_says("/iris 1 2 3", chat_id=CHAT)
    asked_help = telegram_api.user_says("/help@mljobs_bot", chat_id=CHAT)
    wait_for(lambda: len(telegram_api.chat(CHAT)) == 2)
    # The bot handles updates concurrently: the two answers may come in either order.
    replies = {message.reply_to: message for message in telegram_api.chat(CHAT)}
    assert "/iris takes 4 measurements" in replies[asked].text
    assert "/titanic pclass=1 sex=female age=29" in replies[asked_help].text
    assert connection.keys("rq:queue:*") == []


def test_long_reply_arrives_as_three_messages_in_order(telegram_api, start_telegram_bot, connection):
    """A 9,000-character text is split on sentence boundaries into three messages, in order."""
    start_telegram_bot()
    sentences = [f"Sentence number {i} says something about the video. " for i in range(176)]
    text = "".join(sentences).strip()
    assert 9000 <= len(text) <= 9300
    post(connection, kind="text", job_id="longtext", text=text)
    wait_for(lambda: len(telegram_api.chat(CHAT)) >= 3)
    sent = telegram_api.chat(CHAT)
    assert len(sent) == 3
    assert all(len(m.text) <= 4096 and m.text.endswith("video.") for m in sent)
    assert " ".join(m.text for m in sent) == text
    assert all(m.reply_to == 77 for m in sent)


@pytest.mark.slow
def test_bot_killed_before_sending_delivers_after_restart(telegram_api, start_telegram_bot, connection):
    """SIGKILL while the photo upload is in flight: the restarted bot sends it, once."""
    bot, _ = start_telegram_bot()
    telegram_api.hold("sendPhoto")
    key = artifacts.store(connection, png())
    post(connection, kind="picture", job_id="dashboard", text="Iris this week", artifact=key, filename="iris.png")
    assert telegram_api.held["sendPhoto"].wait(10)
    bot.send_signal(signal.SIGKILL)
    bot.wait(5)
    telegram_api.release("sendPhoto")
    assert photos(telegram_api)() == []
    start_telegram_bot()
    photo = wait_for(photos(telegram_api), timeout=15)[0]
    assert photo.caption == "Iris this week" and photo.filename == "iris.png"
    wait_for(lambda: connection.xpending("outbox:telegram", "bots")["pending"] == 0)
    assert len(photos(telegram_api)()) == 1


def test_429_is_retried_after_retry_after(telegram_api, start_telegram_bot, connection):
    """A 429 with retry_after=2 is not dropped: the same message is sent again two seconds later."""
    start_telegram_bot()
    telegram_api.fail("sendMessage", status=429, retry_after=2)
    post(connection, kind="text", job_id="slowdown", text="after the flood")
    wait_for(lambda: telegram_api.chat(CHAT), timeout=15)
    first, second = telegram_api.calls_of("sendMessage")
    assert first.status == 429 and second.status == 200
    assert second.params["text"] == "after the flood"
    assert second.at - first.at >= 2.0


def test_two_bots_share_the_outbox_without_double_sends(telegram_api, start_telegram_bot, connection):
    """Two processes: one polls (no 409 Conflict), both read one consumer group, everything is sent once."""
    start_telegram_bot()
    wait_for(lambda: telegram_api.calls_of("getUpdates"))
    start_telegram_bot()
    chats = range(1000, 1030)  # one message each: a chat gets about one a second (bot.telegram_limiter)
    for chat in chats:
        reply = ReplyTo(outbox="telegram", chat=str(chat), message="77")
        outbox.post(connection, OutboxMessage(reply=reply, kind="text", job_id=f"job{chat}", text=f"message {chat}"))
    asked = telegram_api.user_says("/status abcdef", chat_id=222)
    wait_for(lambda: all(telegram_api.chat(chat) for chat in chats) and telegram_api.chat(222), timeout=20)
    wait_for(lambda: connection.xpending("outbox:telegram", "bots")["pending"] == 0)
    texts = [m.text for chat in chats for m in telegram_api.chat(chat)]
    assert sorted(texts) == sorted(f"message {chat}" for chat in chats)
    consumers = connection.xinfo_consumers("outbox:telegram", "bots")
    assert len(consumers) == 2 and consumers[0]["name"] != consumers[1]["name"]
    assert [m.reply_to for m in telegram_api.chat(222)] == [asked]
    assert all(call.status == 200 for call in telegram_api.calls_of("getUpdates"))


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (None, "TELEGRAM_TOKEN is not set"),
        ("12345:tooshort", "TELEGRAM_TOKEN is not a Telegram bot token"),
        ("changeme", "TELEGRAM_TOKEN is not a Telegram bot token"),
    ],
)
def test_missing_or_malformed_token_stops_the_bot_at_start(process_env, token, expected):
    """The process exits at once with one line naming the variable, never echoing the value."""
    env = {key: value for key, value in process_env.items() if key != "TELEGRAM_TOKEN"}
    if token is not None:
        env["TELEGRAM_TOKEN"] = token
    done = subprocess.run([sys.executable, "-m", "bot", "telegram"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    if token:
        assert token not in done.stderr + done.stdout


def test_token_refused_by_telegram_stops_with_a_clear_message(telegram_api, process_env):
    """A well-formed token that the API refuses (401) ends the process naming TELEGRAM_TOKEN."""
    wrong = "987654321:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-zz"
    env = {**process_env, "TELEGRAM_TOKEN": wrong, "TELEGRAM_API_URL": telegram_api.base_url}
    done = subprocess.run([sys.executable, "-m", "bot", "telegram"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "Telegram refused TELEGRAM_TOKEN" in done.stderr
    assert wrong not in done.stderr and wrong.split(":")[1] not in done.stderr
    assert json.dumps(wrong) not in done.stdout


def test_user_over_the_rate_limit_is_told_to_wait(telegram_api, start_telegram_bot, connection):
    """With USER_JOBS_PER_MINUTE=1 the second job of a user is answered 'busy' and not queued."""
    start_telegram_bot(USER_JOBS_PER_MINUTE="1")
    telegram_api.user_says("/iris 5.1 3.5 1.4 0.2", chat_id=CHAT)
    wait_for(lambda: telegram_api.chat(CHAT))
    telegram_api.user_says("/iris 6.7 3.0 5.2 2.3", chat_id=CHAT)
    wait_for(lambda: len(telegram_api.chat(CHAT)) == 2)
    queued, refused = telegram_api.chat(CHAT)
    assert queued.text.startswith("Queued as job")
    assert "busy, try again in" in refused.text
    assert connection.llen("rq:queue:predict") == 1
