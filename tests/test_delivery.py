"""bot/delivery.py: splitting, throttled progress, retries and resumption, with the real
python-telegram-bot as the platform client against the Bot API emulator (in this process)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.delivery import Ack, AckStore, Delivery, consumer_slot
from bot.redaction import RedactSecret
from bot.replies import REST_IN_FILE
from bot.telegram import TelegramPlatform, build_application
from bot.text_split import split_text, utf16_length
from common import artifacts, outbox
from common.jobs import OutboxMessage, ReplyTo
from common.outbox import OutboxReader
from tests.chat_fixtures import TELEGRAM_TOKEN as TOKEN
from tests.emulators.telegram_api import TelegramEmulator
from tests.helpers import png

CHAT = 111
REPLY = ReplyTo(outbox="telegram", chat=str(CHAT), message="77")


def post(connection, **fields: Any) -> None:
    outbox.post(connection, OutboxMessage(reply=REPLY, **fields))


async def until(condition: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := condition()):
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
    return value


@contextlib.asynccontextmanager
async def delivering(api: TelegramEmulator, connection, **options: Any) -> AsyncIterator[Delivery]:
    """A running Delivery with PTB set up as the bot runs it; the consumer name is fixed so a second one resumes."""
    application = build_application(TOKEN, api.base_url)
    await application.initialize()
    reader = OutboxReader(connection, "telegram", consumer="test-0")
    delivery = Delivery(TelegramPlatform(application), connection, reader, **options)
    task = asyncio.create_task(delivery.run())
    try:
        yield delivery
    finally:
        delivery.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await application.shutdown()


@settings(deadline=None)  # a shared, loaded machine must not fail it on time
@given(
    st.lists(st.sampled_from(["word", "Sentence.", "end!", "\n", "\n\n", "x" * 30, "ö", "😀"]), max_size=400),
    st.integers(min_value=40, max_value=300),
)
def test_split_text_keeps_every_word_within_the_limit(tokens, limit):
    """No piece exceeds the limit in UTF-16 units (Telegram's count) and no word is lost, cut or reordered."""
    text = " ".join(tokens)
    pieces = split_text(text, limit)
    assert all(0 < utf16_length(piece) <= limit for piece in pieces)
    assert " ".join(pieces).split() == text.split()


def test_split_text_prefers_sentence_then_line_boundaries():
    """Cuts fall after a sentence when no line break is near, after a line break when one is."""
    sentences = "One two three. Four five six. Seven eight nine."
    assert split_text(sentences, 32) == ["One two three. Four five six.", "Seven eight nine."]
    assert split_text("alpha beta\ngamma. delta epsilon zeta", 30) == ["alpha beta\ngamma.", "delta epsilon zeta"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_an_emoji_counts_twice_as_telegram_counts_it():
    """3000 emoji with spaces: 6000 characters, 9000 UTF-16 units, so three pieces of at most 4096 units, not two."""
    pieces = split_text("😀 " * 3000, 4096)
    assert [utf16_length(piece) for piece in pieces] == [4094, 4094, 809]
    assert "".join(pieces).count("😀") == 3000


def test_progress_is_throttled_into_the_ack_and_the_end_says_done(telegram_api, connection):
    """Ten quick progress messages make at most two edits, the newest shown last; the result replies."""

    async def scenario() -> None:
        async with delivering(telegram_api, connection, edit_interval_s=0.5) as delivery:
            ack_id = await delivery.platform.send_text(REPLY, None, "Queued as job j1: 1st in line.")
            AckStore(connection, "telegram").remember("j1", Ack(str(CHAT), ack_id))
            for step in range(1, 11):
                post(connection, kind="progress", job_id="j1", text=f"Transcribing: {step * 10}%", final=False)
            ack = telegram_api.chat(CHAT)[0]
            await until(lambda: ack.text == "Transcribing: 100%")
            # The first is shown at once, the rest collapse into the newest (a loaded machine may add one).
            assert ack.edits[:2] == ["Queued as job j1: 1st in line.", "Transcribing: 10%"]
            assert len(ack.edits) <= 4
            post(connection, kind="text", job_id="j1", text="Hej och välkommen.")
            await until(lambda: len(telegram_api.chat(CHAT)) == 2)
            await until(lambda: ack.text == "Job j1 is done: the answer is below.")
            assert telegram_api.chat(CHAT)[1].text == "Hej och välkommen." and telegram_api.chat(CHAT)[1].reply_to == 77

    asyncio.run(scenario())


def test_a_transcript_is_split_here_and_cut_after_its_parts_with_a_pointer_to_the_file(telegram_api, connection):
    """The worker posts one long text with max_parts=2: two messages within Telegram's limit, then the note."""
    text = " ".join(f"Mening {i} är här." for i in range(1500))  # about 27,000 characters

    async def scenario() -> None:
        async with delivering(telegram_api, connection):
            post(connection, kind="text", job_id="speech", text=text, final=False, max_parts=2)
            await until(lambda: len(telegram_api.chat(CHAT)) == 3)
            await until(lambda: connection.xpending("outbox:telegram", "bots")["pending"] == 0)
        sent = [m.text for m in telegram_api.chat(CHAT)]
        assert all(len(piece) <= 4096 for piece in sent)
        assert len(sent[0]) > 4000, "cut near the limit, not at some smaller guess"
        assert text.startswith(" ".join(sent[:2]))
        assert sent[2] == REST_IN_FILE

    asyncio.run(scenario())


def test_interrupted_multi_part_reply_resumes_with_the_next_part(telegram_api, connection):
    """Stopped while sending part two of three, a restarted delivery sends parts two and three only."""
    text = " ".join(f"Sentence {i} is here." for i in range(500))  # about 10,900 characters: 3 parts

    async def scenario() -> None:
        telegram_api.hold("sendMessage", after=1)
        async with delivering(telegram_api, connection):
            post(connection, kind="text", job_id="long", text=text)
            await until(lambda: telegram_api.held["sendMessage"].is_set())
        telegram_api.release("sendMessage")
        assert len(telegram_api.chat(CHAT)) == 1
        async with delivering(telegram_api, connection):
            await until(lambda: len(telegram_api.chat(CHAT)) == 3)
            await until(lambda: connection.xpending("outbox:telegram", "bots")["pending"] == 0)
        assert " ".join(m.text for m in telegram_api.chat(CHAT)) == text
        assert [c.status for c in telegram_api.calls_of("sendMessage")] == [200, 502, 200, 200]

    asyncio.run(scenario())


def test_server_errors_are_retried_with_back_off(telegram_api, connection):
    """Two 502 answers, then success: the message is sent once, after a growing wait."""

    async def scenario() -> None:
        telegram_api.fail("sendMessage", status=502, times=2)
        async with delivering(telegram_api, connection):
            post(connection, kind="failed", job_id="j2", text="Sorry, job j2 failed.")
            await until(lambda: telegram_api.chat(CHAT))
        calls = telegram_api.calls_of("sendMessage")
        assert [c.status for c in calls] == [502, 502, 200]
        assert calls[2].at - calls[1].at >= 0.9 and calls[1].at - calls[0].at >= 0.45
        assert [m.text for m in telegram_api.chat(CHAT)] == ["Sorry, job j2 failed."]

    asyncio.run(scenario())


def test_a_429_past_the_librarys_retries_waits_retry_after_and_delivers(telegram_api, connection):
    """PTB's rate limiter retries a 429 three times, then raises: delivery waits retry_after itself, then sends."""

    async def scenario() -> None:
        telegram_api.fail("sendMessage", status=429, retry_after=1, times=4)
        async with delivering(telegram_api, connection):
            post(connection, kind="text", job_id="j3", text="after the flood")
            await until(lambda: telegram_api.chat(CHAT), timeout=30)  # well before a stale entry is claimed (30 s)
        calls = telegram_api.calls_of("sendMessage")
        assert [c.status for c in calls] == [429, 429, 429, 429, 200]
        assert calls[4].at - calls[3].at >= 1.0, "the project waited retry_after before its own retry"
        assert [m.text for m in telegram_api.chat(CHAT)] == ["after the flood"]

    asyncio.run(scenario())


def test_an_edit_telegram_calls_not_modified_is_harmless(telegram_api, connection, caplog):
    """An edit to the text the message already shows gets 400 "message is not modified": nothing is dropped."""

    async def scenario() -> None:
        async with delivering(telegram_api, connection, edit_interval_s=0.0) as delivery:
            ack_id = await delivery.platform.send_text(REPLY, None, "Queued as job j4: 1st in line.")
            ack = Ack(str(CHAT), ack_id)
            AckStore(connection, "telegram").remember("j4", ack)
            await delivery.platform.edit_text(ack, "Queued as job j4: 1st in line.")  # no error comes out
            for _ in range(2):
                post(connection, kind="progress", job_id="j4", text="Transcribing: 50%", final=False)
            post(connection, kind="text", job_id="j4", text="Hej.")
            await until(lambda: len(telegram_api.chat(CHAT)) == 2)
            await until(lambda: connection.xpending("outbox:telegram", "bots")["pending"] == 0)
        edits = telegram_api.calls_of("editMessageText")
        assert [c.status for c in edits].count(400) >= 1, "the emulator answered 'not modified' at least once"
        assert telegram_api.chat(CHAT)[0].text == "Job j4 is done: the answer is below."
        assert AckStore(connection, "telegram").get("j4").shows == "result"

    with caplog.at_level(logging.WARNING, logger="bot.delivery"):
        asyncio.run(scenario())
    assert not [r for r in caplog.records if r.name == "bot.delivery"], "no entry dropped or left undelivered"


def test_documents_long_captions_expired_and_oversized_files(telegram_api, connection):
    """A document keeps its name; a long caption goes first as text; a missing or too large file is explained."""
    srt = artifacts.store(connection, b"1\n00:00:00,000 --> 00:00:01,000\nHej\n")
    big = artifacts.store(connection, b"x" * 2000)
    picture = artifacts.store(connection, png())

    async def scenario() -> None:
        async with delivering(telegram_api, connection) as delivery:
            delivery.platform.upload_limit = 1000  # type: ignore[misc]
            post(connection, kind="document", job_id="d1", text="Subtitles", artifact=srt, filename="video.srt")
            post(connection, kind="picture", job_id="d2", text="long " * 300, artifact=picture, filename="p.png")
            post(connection, kind="document", job_id="d3", text="gone", artifact="artifact:missing")
            post(connection, kind="document", job_id="d4", text="big", artifact=big, filename="big.txt")
            await until(lambda: len(telegram_api.chat(CHAT)) == 5)
        document, caption, photo, expired, too_large = telegram_api.chat(CHAT)
        assert document.filename == "video.srt" and document.caption == "Subtitles"
        assert document.document.startswith(b"1\n00:00:00,000")
        assert caption.text == ("long " * 300).strip() and photo.photo is not None and photo.caption == ""
        assert expired.text == "The file for job d3 expired before it could be sent."
        assert too_large.text == "The file for job d4 is 0.0 MiB, too large to send here."

    asyncio.run(scenario())


def test_secret_is_redacted_from_messages_and_tracebacks():
    """A log record that carries the token, in its text or its exception, is written without it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecret(TOKEN))
    log = logging.getLogger("tests.redaction")
    log.addHandler(handler)
    try:
        log.warning("calling %s/bot%s/getMe", "https://api.telegram.org", TOKEN)
        log.warning("POST https://discord.com/api/v10/webhooks/9001/aW50ZXJhY3Rpb246MTIz/messages/@original")
        try:
            raise RuntimeError(f"failed: https://api.telegram.org/bot{TOKEN}/getMe")
        except RuntimeError:
            log.exception("request failed")
    finally:
        log.removeHandler(handler)
    assert TOKEN not in stream.getvalue() and "aW50ZXJhY3Rpb246MTIz" not in stream.getvalue()
    assert stream.getvalue().count("<token>") == 3
    assert "/webhooks/9001/<token>/messages/@original" in stream.getvalue()


def test_consumer_slots_are_distinct_and_reused_after_release(tmp_path):
    """Two live bots get different names; a restarted one gets the name its predecessor had."""
    first, first_lock = consumer_slot(tmp_path, "telegram")
    second, second_lock = consumer_slot(tmp_path, "telegram")
    assert first != second
    first_lock.close()
    again, again_lock = consumer_slot(tmp_path, "telegram")
    assert again == first
    second_lock.close()
    again_lock.close()
