"""Monitoring subscriptions: stored in Redis, plus the chats from settings; /subscribe, /unsubscribe, /monitor."""

from __future__ import annotations

import pytest

from bot.commands import Commands
from common.errors import SettingsError
from common.jobs import ReplyTo
from common.queues import RENDER, JobQueue
from common.settings import MonitorSettings, load_settings
from common.subscriptions import Subscriber, Subscriptions, from_settings
from models import MODELS

TELEGRAM_CHAT = ReplyTo(outbox="telegram", chat="-100777", message="5", user="42")
DISCORD_CHANNEL = ReplyTo(outbox="discord", chat="123456789012345678", user="9")


def test_subscribers_are_stored_per_model_and_merged_with_the_settings(connection):
    """A chat subscribed in chat and a chat from settings both get the post, each once, in a stable order."""
    fixed = from_settings(["-100777", "-100888"], ["123456789012345678"])
    subscriptions = Subscriptions(connection, fixed, models=tuple(MODELS))
    console = Subscriber("console-ab12", "console")
    subscriptions.subscribe(console, ["iris"])
    subscriptions.subscribe(Subscriber("telegram", "-100777"), ["iris", "titanic"])  # also fixed: listed once
    iris = subscriptions.subscribers("iris")
    assert iris == sorted(iris)
    assert iris.count(Subscriber("telegram", "-100777")) == 1
    assert set(iris) == {console, *fixed}
    assert set(subscriptions.subscribers("titanic")) == set(fixed)
    # Another process (the scheduler) sees the same subscriptions.
    assert console in Subscriptions(connection, models=tuple(MODELS)).subscribers("iris")
    assert subscriptions.unsubscribe(console, ["iris", "titanic"]) == ["iris"]
    assert console not in subscriptions.subscribers("iris")


def test_subscribe_and_unsubscribe_in_chat(connection):
    """/subscribe <model|all> and /unsubscribe [model] answer in words and change what the scheduler sees."""
    commands = Commands(JobQueue(connection))
    subscriptions = Subscriptions(connection, models=tuple(MODELS))
    chat = Subscriber("telegram", "-100777")

    answer = commands.handle("/subscribe iris", TELEGRAM_CHAT)
    assert "daily monitoring picture of iris" in answer.text and answer.job_id is None
    assert subscriptions.models_of(chat) == ["iris"]

    assert "iris and titanic" in commands.handle("/subscribe all", TELEGRAM_CHAT).text
    assert subscriptions.models_of(chat) == ["iris", "titanic"]
    assert chat in subscriptions.subscribers("titanic")

    answer = commands.handle("/unsubscribe titanic", TELEGRAM_CHAT)
    assert "no more daily monitoring pictures of titanic" in answer.text
    assert "Still subscribed to iris" in answer.text
    answer = commands.handle("/unsubscribe", TELEGRAM_CHAT)
    assert "of iris here" in answer.text
    assert subscriptions.models_of(chat) == []
    assert "was not subscribed" in commands.handle("/unsubscribe", TELEGRAM_CHAT).text

    # A Discord channel is a different chat.
    commands.handle("/subscribe titanic", DISCORD_CHANNEL)
    assert subscriptions.subscribers("titanic") == [Subscriber("discord", "123456789012345678")]


def test_subscription_commands_refuse_unknown_models(connection):
    commands = Commands(JobQueue(connection))
    refused = commands.handle("/subscribe whisper", TELEGRAM_CHAT).text
    assert "/subscribe takes iris, titanic or all, not 'whisper'" in refused
    assert "/monitor takes one model" in commands.handle("/monitor", TELEGRAM_CHAT).text
    assert "/monitor takes one model" in commands.handle("/monitor all", TELEGRAM_CHAT).text
    assert connection.keys("monitor:*") == []
    assert JobQueue(connection).waiting(RENDER) == 0


def test_a_chat_from_settings_is_told_it_cannot_unsubscribe_itself(connection):
    fixed = from_settings(["-100777"], [])
    commands = Commands(JobQueue(connection), subscriptions=Subscriptions(connection, fixed, models=tuple(MODELS)))
    answer = commands.handle("/unsubscribe", TELEGRAM_CHAT)
    assert "only its operator can change that" in answer.text


def test_monitor_queues_a_dashboard_job_on_the_render_queue(connection):
    """The bot never draws: /monitor queues scheduler.jobs.dashboard with the chat's reply address."""
    queue = JobQueue(connection)
    answer = Commands(queue).handle("/monitor Titanic", TELEGRAM_CHAT)
    assert answer.job_id and ("1st in line" in answer.text)
    job = queue.fetch(answer.job_id)
    assert job is not None and job.func_name == "scheduler.jobs.dashboard"
    assert job.origin == RENDER
    assert job.args[0] == {"model": "titanic", "reply": TELEGRAM_CHAT.to_dict()}


def test_monitor_settings_are_checked_with_the_variable_named(monkeypatch):
    monkeypatch.setenv("TELEGRAM_MONITOR_CHATS", " -1001234567890, 42 ,")
    monkeypatch.setenv("DISCORD_MONITOR_CHANNELS", "123456789012345678")
    monitor = load_settings().monitor
    assert monitor.telegram_chats == ("-1001234567890", "42")
    assert monitor.discord_channels == ("123456789012345678",)
    assert (monitor.MONITOR_SAMPLES, monitor.MONITOR_DRIFT_THRESHOLD) == (1, 0.10)
    for name, value in [
        ("TELEGRAM_MONITOR_CHATS", "123,general"),
        ("TELEGRAM_MONITOR_CHATS", "@news_channel"),  # the adapter sends to numeric ids
        ("DISCORD_MONITOR_CHANNELS", "#general"),
        ("MONITOR_SAMPLES", "0"),
        ("MONITOR_SAMPLES", "many"),
        ("MONITOR_DRIFT_THRESHOLD", "1.5"),
        ("MONITOR_CRON", "0 25 * * *"),
    ]:
        monkeypatch.setenv(name, value)
        with pytest.raises(SettingsError, match=name):
            load_settings()
        monkeypatch.delenv(name)
    assert MonitorSettings().MONITOR_CRON == "0 8 * * *"
