"""`python -m bot telegram` end to end: the real python-telegram-bot against the local Bot API emulator."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common import artifacts, outbox
from common.jobs import OutboxMessage, ReplyTo
from tests.conftest import REPO
from tests.emulators.telegram_api import TelegramEmulator
from tests.helpers import stop_process, wait_for

TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ao"
CHAT = 111
TITANIC = "/titanic pclass=1 sex=female age=29 sibsp=0 parch=0 fare=80 embarked=C"


@pytest.fixture
def emulator() -> Iterator[TelegramEmulator]:
    api = TelegramEmulator(TOKEN).start()
    yield api
    api.stop()


@pytest.fixture
def start_bot(emulator: TelegramEmulator, process_env: dict[str, str], tmp_path: Path):
    """Start `python -m bot telegram` against the emulator; returns (process, log path)."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(wait: bool = True, **env: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / f"bot-{len(processes)}.log"
        environment = {**process_env, "TELEGRAM_TOKEN": TOKEN, "TELEGRAM_API_URL": emulator.base_url, **env}
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "bot", "telegram"], env=environment, cwd=REPO,
                                       stdout=out, stderr=subprocess.STDOUT)
        processes.append(process)
        if wait:  # until it has registered its commands; the first one also polls
            started = len(emulator.calls_of("setMyCommands"))
            wait_for(lambda: len(emulator.calls_of("setMyCommands")) > started or process.poll() is not None)
            assert process.poll() is None, log.read_text()
        return process, log

    yield start
    for process in processes:
        stop_process(process, timeout=10)
    for log in tmp_path.glob("bot-*.log"):
        assert TOKEN not in log.read_text(), f"the token leaked into {log.name}"
        assert TOKEN.split(":")[1] not in log.read_text()


def post(connection, **fields) -> None:
    reply = ReplyTo(outbox="telegram", chat=str(CHAT), message="77").to_dict()
    outbox.post(connection, OutboxMessage(reply=reply, **fields))


def photos(api: TelegramEmulator) -> Callable[[], list]:
    return lambda: [m for m in api.chat(CHAT) if m.photo is not None]


@pytest.mark.slow
def test_titanic_gets_ack_edit_and_photo_with_verdict_replying_to_the_user(emulator, start_bot, worker_process):
    """/titanic: an ack with the queue place, edited to the verdict, then a photo captioned with it."""
    start_bot()
    assert [c["command"] for c in emulator.commands] == [
        "iris", "titanic", "translate", "transcribe", "subscribe", "unsubscribe", "monitor", "status", "cancel", "help"]
    asked = emulator.user_says(TITANIC, chat_id=CHAT)
    photo = wait_for(photos(emulator), timeout=40)[0]
    ack = emulator.chat(CHAT)[0]
    assert ack.reply_to == asked and photo.reply_to == asked
    assert ack.edits[0].startswith(("Queued as job", "Working on it"))
    verdict = "Titanic: a 1st-class woman of 29 would have survived"
    assert photo.caption.startswith(verdict)
    assert photo.photo[:8] == b"\x89PNG\r\n\x1a\n"
    wait_for(lambda: len(ack.edits) > 1)
    assert ack.edits[-1].startswith(verdict)  # the progress edit: the verdict shows in the ack
    assert len(emulator.chat(CHAT)) == 2  # ack and photo, nothing else
    emulator.user_says("/iris 6.7 3.0 5.2 2.3", chat_id=222)
    iris = wait_for(lambda: [m for m in emulator.chat(222) if m.photo is not None], timeout=20)[0]
    assert iris.caption.startswith("Iris: virginica")


def test_bad_command_is_answered_at_once_and_help_lists_commands(emulator, start_bot, connection):
    """Wrong input is answered as a reply without queueing anything; /help@bot answers the help text."""
    start_bot()
    asked = emulator.user_says("/iris 1 2 3", chat_id=CHAT)
    emulator.user_says("/help@mljobs_bot", chat_id=CHAT)
    wait_for(lambda: len(emulator.chat(CHAT)) == 2)
    wrong, help_text = emulator.chat(CHAT)
    assert wrong.reply_to == asked and "/iris takes 4 measurements" in wrong.text
    assert "/titanic pclass=1 sex=female age=29" in help_text.text
    assert connection.keys("rq:queue:*") == []


def test_long_reply_arrives_as_three_messages_in_order(emulator, start_bot, connection):
    """A 9,000-character text is split on sentence boundaries into three messages, in order."""
    start_bot()
    sentences = [f"Sentence number {i} says something about the video. " for i in range(176)]
    text = "".join(sentences).strip()
    assert 9000 <= len(text) <= 9300
    post(connection, kind="text", job_id="longtext", text=text)
    wait_for(lambda: len(emulator.chat(CHAT)) >= 3)
    sent = emulator.chat(CHAT)
    assert len(sent) == 3
    assert all(len(m.text) <= 4096 and m.text.endswith("video.") for m in sent)
    assert " ".join(m.text for m in sent) == text
    assert all(m.reply_to == 77 for m in sent)


@pytest.mark.slow
def test_bot_killed_before_sending_delivers_after_restart(emulator, start_bot, connection):
    """SIGKILL while the photo upload is in flight: the restarted bot sends it, once."""
    bot, _ = start_bot()
    emulator.hold("sendPhoto")
    key = artifacts.store(connection, b"\x89PNG\r\n\x1a\nnot really a picture")
    post(connection, kind="picture", job_id="dashboard", text="Iris this week", artifact=key, filename="iris.png")
    assert emulator.held["sendPhoto"].wait(10)
    bot.send_signal(signal.SIGKILL)
    bot.wait(5)
    emulator.release("sendPhoto")
    assert photos(emulator)() == []
    start_bot()
    photo = wait_for(photos(emulator), timeout=15)[0]
    assert photo.caption == "Iris this week" and photo.filename == "iris.png"
    wait_for(lambda: connection.xpending("outbox:telegram", "bots")["pending"] == 0)
    assert len(photos(emulator)()) == 1


def test_429_is_retried_after_retry_after(emulator, start_bot, connection):
    """A 429 with retry_after=2 is not dropped: the same message is sent again two seconds later."""
    start_bot()
    emulator.fail("sendMessage", status=429, retry_after=2)
    post(connection, kind="text", job_id="slowdown", text="after the flood")
    wait_for(lambda: emulator.chat(CHAT), timeout=15)
    first, second = emulator.calls_of("sendMessage")
    assert first.status == 429 and second.status == 200
    assert second.params["text"] == "after the flood"
    assert second.at - first.at >= 2.0


def test_two_bots_share_the_outbox_without_double_sends(emulator, start_bot, connection):
    """Two processes: one polls (no 409 Conflict), both read one consumer group, everything is sent once."""
    start_bot()
    wait_for(lambda: emulator.calls_of("getUpdates"))
    start_bot()
    for number in range(30):
        post(connection, kind="text", job_id=f"job{number}", text=f"message {number}")
    asked = emulator.user_says("/status abcdef", chat_id=222)
    wait_for(lambda: len(emulator.chat(CHAT)) >= 30 and emulator.chat(222), timeout=20)
    wait_for(lambda: connection.xpending("outbox:telegram", "bots")["pending"] == 0)
    texts = [m.text for m in emulator.chat(CHAT)]
    assert sorted(texts) == sorted(f"message {n}" for n in range(30))
    consumers = connection.xinfo_consumers("outbox:telegram", "bots")
    assert len(consumers) == 2 and consumers[0]["name"] != consumers[1]["name"]
    assert [m.reply_to for m in emulator.chat(222)] == [asked]
    assert all(call.status == 200 for call in emulator.calls_of("getUpdates"))


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


def test_token_refused_by_telegram_stops_with_a_clear_message(emulator, process_env):
    """A well-formed token that the API refuses (401) ends the process naming TELEGRAM_TOKEN."""
    wrong = "987654321:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-zz"
    env = {**process_env, "TELEGRAM_TOKEN": wrong, "TELEGRAM_API_URL": emulator.base_url}
    done = subprocess.run([sys.executable, "-m", "bot", "telegram"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "Telegram refused TELEGRAM_TOKEN" in done.stderr
    assert wrong not in done.stderr and wrong.split(":")[1] not in done.stderr
    assert json.dumps(wrong) not in done.stdout


def test_user_over_the_rate_limit_is_told_to_wait(emulator, start_bot, connection):
    """With USER_JOBS_PER_MINUTE=1 the second job of a user is answered 'busy' and not queued."""
    start_bot(USER_JOBS_PER_MINUTE="1")
    emulator.user_says("/iris 5.1 3.5 1.4 0.2", chat_id=CHAT)
    wait_for(lambda: emulator.chat(CHAT))
    emulator.user_says("/iris 6.7 3.0 5.2 2.3", chat_id=CHAT)
    wait_for(lambda: len(emulator.chat(CHAT)) == 2)
    queued, refused = emulator.chat(CHAT)
    assert queued.text.startswith("Queued as job")
    assert "busy, try again in" in refused.text
    assert connection.llen("rq:queue:predict") == 1
