"""`python -m bot discord` end to end: the real discord.py against the local REST + gateway emulator."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import warnings

import pytest

with warnings.catch_warnings():  # discord.py imports audioop, deprecated since Python 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord
    from discord.gateway import DiscordWebSocket

from bot.commands import Answer, Commands
from bot.delivery import Ack, AckStore
from bot.discord_adapter import DiscordBot
from common import artifacts, outbox
from common.jobs import OutboxMessage, ReplyTo
from common.queues import JobQueue
from tests.chat_fixtures import DISCORD_TOKEN as TOKEN
from tests.conftest import REPO
from tests.helpers import wait_for

CHANNEL = 500


@pytest.mark.slow
def test_slash_iris_is_answered_in_time_then_the_picture_follows(discord_api, start_discord_bot, worker_process):
    """/iris: the interaction is answered at once with the queue place; the verdict and picture follow."""
    start_discord_bot(QUICK_ANSWER_S="0")  # the acknowledgement and its edits (one message: tests/test_quick.py)
    names = [c["name"] for c in discord_api.commands]
    assert names == ["iris", "titanic", "translate", "transcribe", "subscribe", "unsubscribe", "monitor",
                     "status", "cancel", "settings", "stats", "help"]
    iris = discord_api.commands[0]
    assert [o["name"] for o in iris["options"]] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert all(o["type"] == 10 and o["description"] for o in iris["options"])
    interaction = discord_api.slash("iris", sepal_length=6.7, sepal_width=3.0, petal_length=5.2, petal_width=2.3)
    response = wait_for(lambda: [m for m in discord_api.channel() if m.via == "interaction response"])[0]
    answered_at = next(c.at for c in discord_api.calls if c.path.startswith(f"/interactions/{interaction}/"))
    assert answered_at - discord_api.interactions[interaction] < 3.0
    assert response.edits[0].startswith(("Queued as job", "Working on it"))
    picture = wait_for(lambda: [m for m in discord_api.channel() if m.files], timeout=40)[0]
    assert picture.via == "follow-up" and picture.interaction_id == interaction
    assert picture.content.startswith("Iris: virginica")
    name, data = picture.files[0]
    assert name.endswith(".png") and data[:8] == b"\x89PNG\r\n\x1a\n"
    wait_for(lambda: response.content.startswith("Iris: virginica"))  # the ack now shows the verdict
    discord_api.slash("titanic", channel_id=501, pclass=3, sex="male", age=40.0)
    titanic = wait_for(lambda: [m for m in discord_api.channel(501) if m.files], timeout=20)[0]
    assert titanic.content.startswith("Titanic: a 3rd-class man of 40 would not have survived")


def test_titanic_options_become_the_text_command(discord_api, start_discord_bot, connection):
    """Typed options are turned into `/titanic key=value ...`: a bad value gets Commands' own answer."""
    start_discord_bot()
    asked = [discord_api.slash("titanic", pclass=1, sex="female", age=29.0, embarked="C"),
             discord_api.slash("titanic", pclass=1, sex="female", age=290.0),
             discord_api.slash("status", job="nosuchjob")]
    wait_for(lambda: len(discord_api.channel()) == 3)
    answers = {m.interaction_id: m.content for m in discord_api.channel()}
    queued, refused, status = (answers[interaction] for interaction in asked)
    assert queued.startswith("Queued as job")
    assert "age (age in years) must be between 0.1 and 100" in refused
    assert status.startswith("I have no job nosuchjob of yours")
    job = connection.lrange("rq:queue:predict", 0, -1)[0].decode()
    assert job in queued
    features = JobQueue(connection).fetch(job).args[0]["features"]
    assert (features["pclass"], features["sex"], features["age"], features["embarked"]) == (1, "female", 29, "C")


def test_long_reply_is_split_at_2000_characters(discord_api, start_discord_bot, connection):
    """A 4,500-character text arrives as three channel messages, in order, on line boundaries."""
    start_discord_bot()
    lines = [f"Line {i}: Swedish speech, translated into English for you." for i in range(75)]
    text = "\n".join(lines)
    reply = ReplyTo(outbox="discord", chat=str(CHANNEL))
    outbox.post(connection, OutboxMessage(kind="text", reply=reply, job_id="t1", text=text))
    wait_for(lambda: len(discord_api.channel()) >= 3)
    sent = discord_api.channel()
    assert len(sent) == 3 and all(len(m.content) <= 2000 for m in sent)
    assert "\n".join(m.content for m in sent) == text


def test_after_the_token_expires_results_are_channel_replies(discord_api, start_discord_bot, connection):
    """Past the interaction token's 15 minutes, a result is a channel message replying to the ack."""
    start_discord_bot()
    AckStore(connection, "discord").remember("old", Ack(str(CHANNEL), "123456789012345678", token="expired",
                                                        app="900000000000000001", expires=time.time() - 1))
    picture = artifacts.store(connection, b"\x89PNG\r\n\x1a\nfake")
    reply = ReplyTo(outbox="discord", chat=str(CHANNEL), message="42")
    outbox.post(connection, OutboxMessage(kind="picture", reply=reply, job_id="old", text="A week of Iris",
                                          artifact=picture, filename="week.png"))
    sent = wait_for(lambda: discord_api.channel())[0]
    assert sent.via == "channel" and sent.reference == 123456789012345678
    assert sent.content == "A week of Iris" and sent.files == [("week.png", b"\x89PNG\r\n\x1a\nfake")]


def test_rate_limited_follow_up_is_retried_after_retry_after(discord_api, start_discord_bot, connection):
    """A 429 on a channel message is honoured by discord.py: the same message goes out after retry_after."""
    start_discord_bot()
    discord_api.fail(f"POST /channels/{CHANNEL}/messages", status=429, retry_after=1.5)
    reply = ReplyTo(outbox="discord", chat=str(CHANNEL))
    outbox.post(connection, OutboxMessage(kind="text", reply=reply, job_id="r1", text="patience"))
    wait_for(lambda: discord_api.channel(), timeout=15)
    first, second = (c for c in discord_api.calls if c.path == f"/channels/{CHANNEL}/messages")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.5
    assert [m.content for m in discord_api.channel()] == ["patience"]


@pytest.mark.parametrize(
    ("token", "expected"),
    [(None, "DISCORD_TOKEN is not set"), ("short.token", "DISCORD_TOKEN is not a Discord bot token")],
)
def test_missing_or_malformed_token_stops_the_bot_at_start(process_env, token, expected):
    """One line naming the variable, exit code 2, the value never echoed."""
    env = {key: value for key, value in process_env.items() if key != "DISCORD_TOKEN"}
    if token is not None:
        env["DISCORD_TOKEN"] = token
    done = subprocess.run([sys.executable, "-m", "bot", "discord"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and expected in done.stderr and "Traceback" not in done.stderr
    if token:
        assert token not in done.stderr + done.stdout


def test_token_refused_by_discord_stops_with_a_clear_message(discord_api, process_env):
    """A well-formed token that the API refuses (401) ends the process naming DISCORD_TOKEN, not echoing it."""
    wrong = TOKEN[:-4] + "zzzz"
    env = {**process_env, "DISCORD_TOKEN": wrong, "DISCORD_API_URL": discord_api.api_url,
           "DISCORD_GATEWAY_URL": discord_api.gateway_url}
    done = subprocess.run([sys.executable, "-m", "bot", "discord"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert "Discord refused DISCORD_TOKEN" in done.stderr
    assert wrong not in done.stderr + done.stdout


def test_slow_answer_is_deferred_then_edited_in(discord_api, connection, tmp_path):
    """When Commands takes longer than defer_after_s, the bot defers ("thinking") and edits the answer in."""
    bot = DiscordBot(TOKEN, discord_api.api_url, discord_api.gateway_url, Commands(JobQueue(connection)), connection,
                     tmp_path, defer_after_s=0.0)
    base, gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY

    async def scenario() -> None:
        serving = asyncio.create_task(bot._serve())
        await asyncio.to_thread(wait_for, lambda: discord_api.identified)
        interaction = await asyncio.to_thread(discord_api.slash, "iris", sepal_length=5.1, sepal_width=3.5,
                                              petal_length=1.4, petal_width=0.2)
        answered = await asyncio.to_thread(wait_for, lambda: [m for m in discord_api.channel() if len(m.edits) > 1])
        assert answered[0].interaction_id == interaction
        assert answered[0].edits[0] == "" and answered[0].edits[1].startswith("Queued as job")
        job = connection.lrange("rq:queue:predict", 0, -1)[0].decode()
        assert AckStore(connection, "discord").get(job).message == str(answered[0].id)
        await bot.client.close()
        assert await serving == 0

    try:
        asyncio.run(scenario())
    finally:
        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


def test_a_429_past_the_librarys_tries_is_waited_out_not_dropped(discord_api, start_discord_bot, connection):
    """discord.py gives up after five 429s in a row (HTTPException 429): delivery waits retry_after and sends it."""
    start_discord_bot()
    route = f"/channels/{CHANNEL}/messages"
    discord_api.fail(f"POST {route}", status=429, retry_after=0.3, times=6)
    reply = ReplyTo(outbox="discord", chat=str(CHANNEL))
    outbox.post(connection, OutboxMessage(kind="text", reply=reply, job_id="r2", text="still patient"))
    wait_for(lambda: discord_api.channel(), timeout=20)  # before the stale entry would be claimed again (30 s)
    calls = [c for c in discord_api.calls if c.path == route]
    assert [c.status for c in calls] == [429] * 6 + [200]
    assert calls[5].at - calls[4].at >= 0.3, "the project waited retry_after before its own try"
    assert [m.content for m in discord_api.channel()] == ["still patient"]


class SlowCommands(Commands):
    """Commands that take longer than Discord's 3 s window to answer, like a busy Redis or a slow DNS lookup."""

    def handle(self, text: str, reply: ReplyTo, *, chat_admin: bool = True) -> Answer:
        time.sleep(3.5)
        return super().handle(text, reply, chat_admin=chat_admin)


def test_a_slow_answer_with_the_default_settings_meets_the_3_s_deadline(discord_api, connection, tmp_path):
    """With the bot's own defer threshold, a 3.5 s answer is deferred within 3 s (the emulator refuses later ones)."""
    bot = DiscordBot(TOKEN, discord_api.api_url, discord_api.gateway_url, SlowCommands(JobQueue(connection)),
                     connection, tmp_path)
    base, gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY

    async def scenario() -> None:
        serving = asyncio.create_task(bot._serve())
        await asyncio.to_thread(wait_for, lambda: discord_api.identified)
        interaction = await asyncio.to_thread(discord_api.slash, "help")
        answered = await asyncio.to_thread(
            wait_for, lambda: [m for m in discord_api.channel() if m.interaction_id == interaction and len(m.edits) > 1]
        )
        assert answered[0].edits[1].startswith("I run machine-learning jobs")
        callback = next(c for c in discord_api.calls if c.path.startswith(f"/interactions/{interaction}/"))
        assert callback.status == 200 and callback.at - discord_api.interactions[interaction] < 3.0
        await bot.client.close()
        assert await serving == 0

    try:
        asyncio.run(scenario())
    finally:
        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


def test_two_bots_answer_each_interaction_once_and_share_the_outbox(discord_api, start_discord_bot, connection):
    """Both processes receive every interaction; exactly one answers it; outbox entries are sent once."""
    start_discord_bot()
    start_discord_bot()
    interactions = [discord_api.slash("help") for _ in range(5)]
    reply = ReplyTo(outbox="discord", chat=str(CHANNEL))
    for number in range(20):
        outbox.post(connection, OutboxMessage(kind="text", reply=reply, job_id=f"j{number}", text=f"message {number}"))
    wait_for(lambda: len(discord_api.channel()) >= 25)
    wait_for(lambda: connection.xpending("outbox:discord", "bots")["pending"] == 0)
    answered = sorted(m.interaction_id for m in discord_api.channel() if m.via == "interaction response")
    assert answered == sorted(interactions)
    assert sorted(m.content for m in discord_api.channel() if m.via == "channel") == sorted(
        f"message {n}" for n in range(20))
    assert len(connection.xinfo_consumers("outbox:discord", "bots")) == 2
