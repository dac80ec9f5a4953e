"""A quick prediction is answered with one message: the picture, the verdict as its caption (bot.quick).

Delivery runs the real python-telegram-bot against the Bot API emulator, which counts the sends; the
end-to-end tests run the real bot processes, and a real RQ worker in this process.
"""

from __future__ import annotations

import asyncio

from bot.delivery import AckStore
from bot.quick import QuickAnswers
from common import artifacts, outbox
from common.jobs import OutboxMessage, ReplyTo
from tests.emulators.discord_api import DiscordEmulator
from tests.emulators.telegram_api import TelegramEmulator
from tests.helpers import IRIS_SETOSA, png, wait_for
from tests.test_delivery import delivering, until

CHAT = 111
REPLY = ReplyTo(outbox="telegram", chat=str(CHAT), message="77", user="7")
RESULT = IRIS_SETOSA
ACK = "Working on it (job q1)."


def verdict(connection) -> None:
    outbox.post(
        connection,
        OutboxMessage(kind="prediction", reply=REPLY, job_id="q1", result=RESULT, final=False, part="verdict"),
    )


def picture(connection) -> None:
    key = artifacts.store(connection, png())
    outbox.post(
        connection,
        OutboxMessage(
            kind="picture", reply=REPLY, job_id="q1", result=RESULT, artifact=key, filename="iris.png", part="picture"
        ),
    )


def sends(api: TelegramEmulator) -> list[str]:
    return [c.method for c in api.calls if c.method not in {"getMe", "getUpdates", "setMyCommands", "deleteWebhook"}]


def run(api: TelegramEmulator, connection, window_s: float, steps) -> None:
    """Hold the ack of job q1 for ``window_s``, then run ``steps`` (async callables) with delivery running."""

    async def scenario() -> None:
        async with delivering(api, connection):
            QuickAnswers(connection, "telegram", window_s).hold("q1", REPLY, ACK)
            for step in steps:
                await step()
            await until(lambda: connection.xpending("outbox:telegram", "bots")["pending"] == 0)

    asyncio.run(scenario())


def test_verdict_and_picture_within_the_window_are_one_photo_with_the_verdict_as_caption(telegram_api, connection):
    """One sendPhoto, replying to the user's message; no acknowledgement, no edit."""

    async def answer() -> None:
        verdict(connection)
        picture(connection)
        await until(lambda: telegram_api.chat(CHAT))

    run(telegram_api, connection, 10.0, [answer])
    [photo] = telegram_api.chat(CHAT)
    assert photo.photo is not None and photo.caption.startswith("Iris: setosa") and photo.reply_to == 77
    assert sends(telegram_api) == ["sendPhoto"]
    assert connection.keys("quick:telegram:*") == []


def test_a_late_picture_is_preceded_by_the_verdict_shown_at_the_deadline(telegram_api, connection):
    """The verdict came, its picture did not within the window: the verdict alone, then the photo after it."""

    async def late_picture() -> None:
        verdict(connection)
        await until(lambda: telegram_api.chat(CHAT))
        picture(connection)
        await until(lambda: len(telegram_api.chat(CHAT)) == 2)

    run(telegram_api, connection, 0.3, [late_picture])
    shown, photo = telegram_api.chat(CHAT)
    assert shown.text.startswith("Iris: setosa") and shown.reply_to == 77 and photo.photo is not None
    assert sends(telegram_api) == ["sendMessage", "sendPhoto"]
    assert AckStore(connection, "telegram").get("q1").shows == "result"


def test_a_picture_drawn_slowly_shows_an_upload_action_first(telegram_api, connection):
    """A parked verdict whose picture is late: "uploading a photo" in the chat, then the one photo."""

    async def slow_picture() -> None:
        verdict(connection)
        await until(lambda: telegram_api.calls_of("sendChatAction"))
        picture(connection)
        await until(lambda: telegram_api.chat(CHAT))

    run(telegram_api, connection, 10.0, [slow_picture])
    assert sends(telegram_api) == ["sendChatAction", "sendPhoto"]
    assert telegram_api.calls_of("sendChatAction")[0].params["action"] == "upload_photo"


def test_a_job_slower_than_the_window_gets_the_acknowledgement_and_its_edits(telegram_api, connection):
    """Nothing within the window (a busy queue): the acknowledgement, edited into the verdict, then the photo."""

    async def slow_job() -> None:
        await until(lambda: telegram_api.chat(CHAT))
        verdict(connection)
        await until(lambda: telegram_api.chat(CHAT)[0].text.startswith("Iris: setosa"))
        picture(connection)
        await until(lambda: len(telegram_api.chat(CHAT)) == 2)

    run(telegram_api, connection, 0.2, [slow_job])
    ack, photo = telegram_api.chat(CHAT)
    assert ack.edits[0] == ACK and ack.reply_to == 77 and photo.photo is not None
    assert sends(telegram_api) == ["sendMessage", "editMessageText", "sendPhoto"]


def test_a_failed_picture_after_a_parked_verdict_shows_the_verdict_then_the_failure(telegram_api, connection):
    """The render job failed: the verdict computed before is not lost behind the failure notice."""

    async def failed_picture() -> None:
        verdict(connection)
        await until(lambda: connection.hexists("quick:telegram:q1", "verdict"))
        outbox.post(connection, OutboxMessage(kind="failed", reply=REPLY, job_id="q1", text="Sorry, job q1 failed."))
        await until(lambda: len(telegram_api.chat(CHAT)) == 2)

    run(telegram_api, connection, 10.0, [failed_picture])
    shown, failed = telegram_api.chat(CHAT)
    assert shown.text.startswith("Iris: setosa") and failed.text == "Sorry, job q1 failed."
    assert sends(telegram_api) == ["sendMessage", "sendMessage"] and connection.keys("quick:telegram:*") == []


def test_a_held_answer_whose_taker_was_killed_is_sent_after_its_lease(telegram_api, connection, monkeypatch):
    """A bot took the held record (the verdict parked in it) and died before sending: another sends it, once."""
    monkeypatch.setattr("bot.quick.LEASE_S", 0.5)
    quick = QuickAnswers(connection, "telegram", 10.0)
    quick.hold("q1", REPLY, ACK)
    verdict(connection)

    async def scenario() -> None:
        async with delivering(telegram_api, connection):
            await until(lambda: connection.hexists("quick:telegram:q1", "verdict"))
        assert quick.take("q1") is not None  # the process that took it is killed here, before sending
        async with delivering(telegram_api, connection):
            await until(lambda: telegram_api.chat(CHAT))
            await until(lambda: not connection.exists("quick:telegram:q1"))

    asyncio.run(scenario())
    [shown] = telegram_api.chat(CHAT)
    assert shown.text.startswith("Iris: setosa") and sends(telegram_api) == ["sendMessage"]


def chat_sends(calls, chat: int) -> list[str]:
    return [c.method for c in calls if str(c.params.get("chat_id")) == str(chat)]


def test_telegram_bot_answers_a_prediction_with_one_photo(telegram_api, start_telegram_bot, worker_process):
    """`python -m bot telegram` with a warm worker: /iris is one photo captioned with the verdict."""
    start_telegram_bot(QUICK_ANSWER_S="5")  # a loaded machine's worker still answers well within it
    telegram_api.user_says("/iris 6.7 3.0 5.2 2.3", chat_id=999)  # the first picture warms matplotlib up
    wait_for(lambda: [m for m in telegram_api.chat(999) if m.photo is not None], timeout=60)
    asked = telegram_api.user_says("/iris 5.1 3.5 1.4 0.2", chat_id=CHAT)
    [photo] = wait_for(lambda: telegram_api.chat(CHAT), timeout=20)
    assert photo.photo is not None and photo.caption.startswith("Iris: setosa") and photo.reply_to == asked
    assert chat_sends(telegram_api.calls, CHAT) in (["sendPhoto"], ["sendChatAction", "sendPhoto"])
    assert len(telegram_api.chat(CHAT)) == 1


def test_discord_bot_fills_its_deferred_response_with_the_picture(
    discord_api: DiscordEmulator, start_discord_bot, worker_process
):
    """`python -m bot discord` with a warm worker: /iris is deferred, then one follow-up with the image fills it."""
    start_discord_bot(QUICK_ANSWER_S="5")
    wait_for(lambda: discord_api.commands)
    options = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    discord_api.slash("iris", channel_id=501, **options)  # warms the worker's matplotlib up
    wait_for(lambda: [m for m in discord_api.channel(501) if m.files], timeout=60)
    interaction = discord_api.slash("iris", **options)
    [message] = wait_for(lambda: [m for m in discord_api.channel() if m.files], timeout=20)
    assert message.via == "interaction response" and message.interaction_id == interaction
    assert message.content.startswith("Iris: setosa") and message.files[0][1][:8] == b"\x89PNG\r\n\x1a\n"
    assert len(discord_api.channel()) == 1 and message.edits == ["", message.content]
    callback = next(c for c in discord_api.calls if c.path.startswith(f"/interactions/{interaction}/"))
    assert callback.at - discord_api.interactions[interaction] < 3.0
