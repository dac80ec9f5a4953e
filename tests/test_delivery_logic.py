"""bot/delivery.py driven directly, fast: a scripted Platform (our own seam) records every call and
raises RetryLater, Transient or Undeliverable where told; Redis is the real redis-server (the
``connection`` fixture), with the real outbox reader, quick answers, delivered parts and ack store.

tests/test_delivery.py runs the same module through python-telegram-bot and the Bot API emulator;
this file checks each rule of delivery on its own, in a few milliseconds a test.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from typing import Any

import pytest
import redis

import bot.delivery
from bot.delivered import DeliveredParts
from bot.delivery import BACKOFF_S, MAX_RETRY_AFTER_WAITS, Delivery, consumer_slot
from bot.platform import Ack, AckStore, Buttons, DeliveryError, RetryLater, Transient, Undeliverable
from bot.quick import QuickAnswers
from common import artifacts, outbox
from common.jobs import OutboxMessage, ReplyTo
from common.outbox import OutboxReader
from tests.helpers import IRIS_SETOSA

OUTBOX = "scripted"
REPLY = ReplyTo(outbox=OUTBOX, chat="c1", message="m0", user="u1")
OTHER = ReplyTo(outbox=OUTBOX, chat="c2", message="m5", user="u2")
PLACEHOLDER = Ack("c1", "deferred", token="tok", app="app", expires=9e9)
RESULT = IRIS_SETOSA
VERDICT_TEXT = "Iris: setosa (97% sure; versicolor 2%, virginica 1%). Model v1."
ACK_TEXT = "Working on it (job q1)."
THREE = "One two three. Four five six. Seven eight nine."  # three pieces at a limit of 20
PIECES = ["One two three.", "Four five six.", "Seven eight nine."]


class ScriptedPlatform:
    """Records each call as a tuple; ``fail`` queues what the next calls of a method raise (None: succeed)."""

    name = OUTBOX

    def __init__(self) -> None:
        self.text_limit = 4096
        self.caption_limit = 1024
        self.upload_limit = 10_000
        self.calls: list[tuple[Any, ...]] = []
        self.script: dict[str, list[BaseException | None]] = defaultdict(list)
        self.refuse: dict[str, BaseException] = {}  # a text (or caption) whose every send raises this
        self.sent = 0
        self.buttons: list[Buttons] = []  # under each sent or edited text, in order

    def fail(self, method: str, *outcomes: BaseException | None) -> None:
        self.script[method].extend(outcomes)

    def _call(self, method: str, *args: Any, text: str | None = None) -> None:
        self.calls.append((method, *args))
        if text is not None and text in self.refuse:
            raise self.refuse[text]
        if self.script[method] and (error := self.script[method].pop(0)) is not None:
            raise error

    async def send_text(self, reply: ReplyTo, ack: Ack | None, text: str, buttons: Buttons = ()) -> str:
        self.buttons.append(buttons)
        self._call("send_text", reply, ack, text, text=text)
        self.sent += 1
        return f"msg{self.sent}"

    async def send_file(
        self, reply: ReplyTo, ack: Ack | None, data: bytes, filename: str, caption: str, *, picture: bool
    ) -> str:
        self._call("send_file", reply, ack, data, filename, caption, picture, text=caption)
        self.sent += 1
        return f"msg{self.sent}"

    async def edit_text(self, ack: Ack, text: str, buttons: Buttons = ()) -> None:
        self.buttons.append(buttons)
        self._call("edit_text", ack, text, text=text)

    async def show_activity(self, reply: ReplyTo) -> None:
        self._call("show_activity", reply)


class RecordedSleeps:
    """``asyncio`` as bot.delivery sees it, with every sleep recorded and made instant."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def platform() -> ScriptedPlatform:
    return ScriptedPlatform()


@pytest.fixture
def make(connection, platform):
    def make(consumer: str = "test-0", **options: Any) -> Delivery:
        options = {"edit_interval_s": 0.0, "ack_wait_s": 0.0, **options}
        return Delivery(platform, connection, OutboxReader(connection, OUTBOX, consumer=consumer), **options)

    return make


@pytest.fixture
def delivery(make) -> Delivery:
    return make()


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    recorded = RecordedSleeps()
    monkeypatch.setattr(bot.delivery, "asyncio", recorded)
    return recorded.sleeps


@pytest.fixture
def quick_backoff(monkeypatch) -> None:
    monkeypatch.setattr(bot.delivery, "BACKOFF_S", (0.001,) * 5)


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.INFO, logger="bot.delivery")
    return lambda: [record.getMessage() for record in caplog.records if record.name == "bot.delivery"]


def message(kind: str, reply: ReplyTo = REPLY, **fields: Any) -> OutboxMessage:
    return OutboxMessage(kind=kind, reply=reply, **fields)


def verdict(job_id: str = "q1") -> OutboxMessage:
    return message("prediction", job_id=job_id, result=RESULT, final=False, part="verdict")


def picture(connection, job_id: str = "q1", data: bytes = b"PNG") -> OutboxMessage:
    key = artifacts.store(connection, data)
    return message(
        "picture", job_id=job_id, result=RESULT, artifact=key, filename="iris.png", part="picture", final=True
    )


def hold(connection, job_id: str = "q1", window_s: float = 5.0, placeholder: Ack | None = None) -> QuickAnswers:
    quick = QuickAnswers(connection, OUTBOX, window_s)
    quick.hold(job_id, REPLY, ACK_TEXT, placeholder)
    return quick


def remember(connection, job_id: str, ack: Ack) -> None:
    AckStore(connection, OUTBOX).remember(job_id, ack)


def ack_of(connection, job_id: str) -> Ack | None:
    return AckStore(connection, OUTBOX).get(job_id)


def record_state(connection, job_id: str = "q1") -> bytes | None:
    return connection.hget(f"quick:{OUTBOX}:{job_id}", "state")


def run(coroutine) -> Any:
    return asyncio.run(coroutine)


async def until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# consumer_slot


@pytest.mark.timeout(5)  # a slot search that never ends fails here, quickly
def test_consumer_slots_are_numbered_from_zero_and_reused_after_release(tmp_path):
    """host-0, host-1 for two live bots (lock files <outbox>-consumer-<n>.lock); a restart takes host-0 again."""
    locks = tmp_path / "a" / "b"
    host = socket.gethostname()
    first, first_lock = consumer_slot(locks, "telegram")
    second, second_lock = consumer_slot(locks, "telegram")
    assert (first, second) == (f"{host}-0", f"{host}-1")
    assert sorted(p.name for p in locks.iterdir()) == ["telegram-consumer-0.lock", "telegram-consumer-1.lock"]
    first_lock.close()
    again, again_lock = consumer_slot(locks, "telegram")
    assert again == f"{host}-0"
    other, other_lock = consumer_slot(locks, "discord")  # another outbox counts on its own
    assert other == f"{host}-0"
    for handle in (second_lock, again_lock, other_lock):
        handle.close()


@pytest.mark.timeout(5)
def test_a_busy_slot_leaves_no_file_open(tmp_path):
    """Passing over two held slots opens only the one file returned."""
    held = [consumer_slot(tmp_path, "telegram")[1] for _ in range(2)]
    before = len(os.listdir("/proc/self/fd"))
    name, handle = consumer_slot(tmp_path, "telegram")
    assert name.endswith("-2")
    assert len(os.listdir("/proc/self/fd")) == before + 1
    for lock in [*held, handle]:
        lock.close()


def test_the_defaults_edit_every_three_seconds_and_wait_two_for_an_ack(connection, platform):
    """Progress is edited into the ack at most every 3 s; a first message waits up to 2 s for its ack."""
    delivery = Delivery(platform, connection, OutboxReader(connection, OUTBOX, consumer="c"))
    assert (delivery.edit_interval_s, delivery.ack_wait_s) == (3.0, 2.0)


# _retrying


def test_a_429_waits_exactly_retry_after_each_time(delivery, platform, sleeps, logs):
    """RetryLater(2.5) then RetryLater(0.25): waits 2.5 s and 0.25 s, then the third try is returned."""
    platform.fail("send_text", RetryLater(2.5), RetryLater(0.3))
    assert run(delivery._retrying(lambda: platform.send_text(REPLY, None, "hi"))) == "msg1"
    assert sleeps == [2.5, 0.3]
    assert len(platform.calls) == 3
    assert logs() == ["scripted asked us to wait 2.5 s", "scripted asked us to wait 0.3 s"]


def test_429s_are_waited_out_up_to_the_limit_then_raised(delivery, platform, sleeps):
    """MAX_RETRY_AFTER_WAITS 429s are waited out; one more is raised after exactly that many waits."""
    platform.fail("send_text", *[RetryLater(1)] * MAX_RETRY_AFTER_WAITS)
    assert run(delivery._retrying(lambda: platform.send_text(REPLY, None, "hi"))) == "msg1"
    assert sleeps == [1] * MAX_RETRY_AFTER_WAITS
    sleeps.clear()
    platform.calls.clear()
    platform.fail("send_text", *[RetryLater(3)] * (MAX_RETRY_AFTER_WAITS + 1))
    with pytest.raises(RetryLater):
        run(delivery._retrying(lambda: platform.send_text(REPLY, None, "hi")))
    assert sleeps == [3] * MAX_RETRY_AFTER_WAITS
    assert len(platform.calls) == MAX_RETRY_AFTER_WAITS + 1


def test_transient_failures_back_off_then_give_up(delivery, platform, sleeps, logs):
    """Five Transient failures wait BACKOFF_S in turn and the sixth try succeeds; six failures are raised."""
    platform.fail("send_text", *[Transient("boom")] * len(BACKOFF_S))
    assert run(delivery._retrying(lambda: platform.send_text(REPLY, None, "hi"))) == "msg1"
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert logs()[:2] == ["scripted: boom; retrying in 0.5 s", "scripted: boom; retrying in 1.0 s"]
    sleeps.clear()
    platform.calls.clear()
    platform.fail("send_text", *[Transient("boom")] * (len(BACKOFF_S) + 1))
    with pytest.raises(Transient):
        run(delivery._retrying(lambda: platform.send_text(REPLY, None, "hi")))
    assert sleeps == list(BACKOFF_S)
    assert len(platform.calls) == len(BACKOFF_S) + 1


def test_429s_do_not_use_up_the_back_off(delivery, platform, sleeps):
    """Transient, 429, Transient: the second failure waits the second back-off step, not the third."""
    platform.fail("send_text", Transient("a"), RetryLater(3), Transient("b"))
    assert run(delivery._retrying(lambda: platform.send_text(REPLY, None, "hi"))) == "msg1"
    assert sleeps == [0.5, 3, 1.0]


@pytest.mark.parametrize("error", [Undeliverable("blocked"), DeliveryError("odd")])
def test_other_delivery_errors_are_raised_at_once(delivery, platform, sleeps, error):
    """Undeliverable or any other DeliveryError: one try, no wait."""
    platform.fail("send_text", error)
    with pytest.raises(type(error)):
        run(delivery._retrying(lambda: platform.send_text(REPLY, None, "hi")))
    assert sleeps == [] and len(platform.calls) == 1


# deliver: answers


def test_a_text_answer_replies_under_the_ack_without_editing_a_plain_ack(connection, delivery, platform):
    """The ack shows "ack" (no progress): the answer is sent with it, and the ack is left as it is."""
    ack = Ack("c1", "a1")
    remember(connection, "j1", ack)
    run(delivery.deliver("1-0", message("text", job_id="j1", text="Hello.")))
    assert platform.calls == [("send_text", REPLY, ack, "Hello.")]
    assert ack_of(connection, "j1") == ack


@pytest.mark.parametrize(
    ("kind", "notice"), [("text", "Job j1 is done: the answer is below."), ("failed", "Job j1 stopped: see below.")]
)
def test_the_last_message_turns_a_progress_ack_into_a_notice(
    connection, delivery, platform, quick_backoff, kind, notice
):
    """A final message after progress: sent, then the ack edited (retried) to say where the answer is."""
    ack = Ack("c1", "a1", shows="progress")
    remember(connection, "j1", ack)
    platform.fail("edit_text", Transient("slow"))
    run(delivery.deliver("1-0", message(kind, job_id="j1", text="Answer.")))
    assert platform.calls == [
        ("send_text", REPLY, ack, "Answer."),
        ("edit_text", ack, notice),
        ("edit_text", ack, notice),
    ]
    assert ack_of(connection, "j1") == Ack("c1", "a1", shows="result")


def test_a_non_final_message_leaves_the_progress_ack_alone(connection, delivery, platform):
    """A text with more to come is sent; the ack still shows progress."""
    ack = Ack("c1", "a1", shows="progress")
    remember(connection, "j1", ack)
    run(delivery.deliver("1-0", message("text", job_id="j1", text="Part one.", final=False)))
    assert platform.calls == [("send_text", REPLY, ack, "Part one.")]
    assert ack_of(connection, "j1") == ack


def test_a_long_text_is_split_to_the_limit(delivery, platform):
    """A text over the platform's limit goes as several messages, in order."""
    platform.text_limit = 20
    run(delivery.deliver("1-0", message("text", job_id="j1", text=THREE)))
    assert platform.calls == [("send_text", REPLY, None, piece) for piece in PIECES]


def test_files_are_sent_with_their_caption_name_and_kind(connection, delivery, platform):
    """A picture with a short caption is one photo; a document is a file; a long caption goes first as text."""
    platform.caption_limit = 20
    doc = artifacts.store(connection, b"1\n00:00")
    run(delivery.deliver("1-0", message("document", job_id="d1", text="Subtitles", artifact=doc, filename="v.srt")))
    pic = artifacts.store(connection, b"PNG")
    run(delivery.deliver("2-0", message("picture", job_id="d2", text=THREE, artifact=pic, filename="p.png")))
    assert platform.calls == [
        ("send_file", REPLY, None, b"1\n00:00", "v.srt", "Subtitles", False),
        ("send_text", REPLY, None, THREE),
        ("send_file", REPLY, None, b"PNG", "p.png", "", True),
    ]


def test_a_rerun_or_a_second_entry_sends_nothing_twice(delivery, platform):
    """The same job's text read twice (two entries, or after a restart): sent once."""
    platform.text_limit = 20
    run(delivery.deliver("1-0", message("text", job_id="j1", text=THREE)))
    run(delivery.deliver("2-0", message("text", job_id="j1", text=THREE)))
    assert [call[3] for call in platform.calls] == PIECES


def test_a_message_of_no_job_is_remembered_by_its_entry(delivery, platform):
    """A monitoring post (no job id) read again under its entry id is sent once; another entry is sent."""
    run(delivery.deliver("1-0", message("text", text="Daily.")))
    run(delivery.deliver("1-0", message("text", text="Daily.")))
    run(delivery.deliver("2-0", message("text", text="Daily.")))
    assert [call[3] for call in platform.calls] == ["Daily.", "Daily."]


def test_a_verdict_of_no_job_is_shown_once_per_entry(connection, delivery, platform):
    """A verdict without job id: read again under its entry it is not resent; another entry is sent."""
    run(delivery.deliver("1-0", verdict("")))
    run(delivery.deliver("1-0", verdict("")))
    run(delivery.deliver("2-0", verdict("")))
    assert platform.calls == [("send_text", REPLY, None, VERDICT_TEXT)] * 2
    assert connection.keys("ack:*") == []


def test_a_restart_after_a_failed_piece_sends_only_the_rest(make, platform):
    """Piece two fails: the entry is left; the restarted consumer (same name) sends pieces two and three only."""
    platform.text_limit = 20
    platform.fail("send_text", None, DeliveryError("lost"))
    with pytest.raises(DeliveryError):
        run(make().deliver("1-0", message("text", job_id="j1", text=THREE)))
    run(make().deliver("1-0", message("text", job_id="j1", text=THREE)))
    assert [call[3] for call in platform.calls] == [PIECES[0], PIECES[1], PIECES[1], PIECES[2]]


def test_an_answer_cut_off_midway_does_not_count_as_delivered(make, platform):
    """Only the last piece completes the answer: a failure reported after piece two failed is shown."""
    platform.text_limit = 20
    platform.fail("send_text", None, DeliveryError("lost"))
    delivery = make()
    with pytest.raises(DeliveryError):
        run(delivery.deliver("1-0", message("text", job_id="j1", text=THREE)))
    run(delivery.deliver("2-0", message("failed", job_id="j1", text="Sorry.")))
    assert [call[3] for call in platform.calls] == [PIECES[0], PIECES[1], "Sorry."]


def test_a_failure_after_the_answer_is_not_shown(delivery, platform, logs):
    """The job's final answer was delivered: its late failure report sends nothing."""
    run(delivery.deliver("1-0", message("text", job_id="j1", text="Done.")))
    run(delivery.deliver("2-0", message("failed", job_id="j1", text="Sorry, it failed.")))
    assert [call[3] for call in platform.calls] == ["Done."]
    assert logs() == ["job j1 failed after its answer was delivered: not shown"]


def test_a_failure_after_a_partial_answer_is_shown(delivery, platform):
    """Only a final message answers a job: a failure after a non-final text is sent."""
    run(delivery.deliver("1-0", message("text", job_id="j1", text="Part.", final=False)))
    run(delivery.deliver("2-0", message("failed", job_id="j1", text="Sorry, it failed.")))
    assert [call[3] for call in platform.calls] == ["Part.", "Sorry, it failed."]


def test_a_multi_piece_answer_is_answered_with_its_last_piece(delivery, platform):
    """After a final text of three pieces, a failure report is not shown."""
    platform.text_limit = 20
    run(delivery.deliver("1-0", message("text", job_id="j1", text=THREE)))
    run(delivery.deliver("2-0", message("failed", job_id="j1", text="Sorry.")))
    assert [call[3] for call in platform.calls] == PIECES


@pytest.mark.parametrize(("final", "shown"), [(True, []), (False, ["Sorry."])])
def test_an_empty_final_message_still_answers_the_job(delivery, platform, final, shown):
    """A final message with nothing to send marks the job answered (a later failure is not shown)."""
    run(delivery.deliver("1-0", message("text", job_id="j1", text="", final=final)))
    run(delivery.deliver("2-0", message("failed", job_id="j1", text="Sorry.")))
    assert [call[3] for call in platform.calls] == shown


def test_a_picture_without_ack_makes_a_late_verdict_redundant(connection, delivery, platform):
    """The picture carries the verdict as caption: the verdict arriving after it is not sent."""
    run(delivery.deliver("1-0", picture(connection)))
    run(delivery.deliver("2-0", verdict()))
    assert platform.calls == [("send_file", REPLY, None, b"PNG", "iris.png", VERDICT_TEXT, True)]


def test_a_picture_under_an_ack_still_lets_the_verdict_into_the_ack(connection, delivery, platform):
    """With an ack the verdict is shown in it even when the picture came first."""
    ack = Ack("c1", "a1")
    remember(connection, "q1", ack)
    run(delivery.deliver("1-0", picture(connection)))
    run(delivery.deliver("2-0", verdict()))
    assert platform.calls == [
        ("send_file", REPLY, ack, b"PNG", "iris.png", VERDICT_TEXT, True),
        ("edit_text", ack, VERDICT_TEXT),
    ]
    assert ack_of(connection, "q1") == Ack("c1", "a1", shows="result")


def test_throttle_state_of_a_finished_job_is_dropped(connection, delivery, platform):
    """A long-running bot keeps no edit times or pending progress of jobs that are done."""
    delivery.edit_interval_s = 60
    remember(connection, "j1", Ack("c1", "a1"))
    run(delivery.deliver("1-0", message("progress", job_id="j1", text="10%", final=False)))
    run(delivery.deliver("2-0", message("progress", job_id="j1", text="20%", final=False)))
    assert (set(delivery._last_edit), set(delivery._pending_edit)) == ({"j1"}, {"j1"})
    run(delivery.deliver("3-0", message("text", job_id="j1", text="Done.")))
    assert (delivery._last_edit, delivery._pending_edit) == ({}, {})


# deliver: quick answers (bot.quick)


def test_a_verdict_while_held_is_parked_and_the_picture_sent_alone(connection, delivery, platform):
    """Held ack, verdict, picture: one photo with the verdict as caption; the record is gone; repeats send nothing."""
    hold(connection)
    run(delivery.deliver("1-0", verdict()))
    assert platform.calls == []
    run(delivery.deliver("2-0", picture(connection)))
    assert platform.calls == [("send_file", REPLY, None, b"PNG", "iris.png", VERDICT_TEXT, True)]
    assert not connection.exists(f"quick:{OUTBOX}:q1")
    run(delivery.deliver("3-0", verdict()))  # the job ran twice
    run(delivery._held_due("q1"))  # the watcher, late
    assert len(platform.calls) == 1


def test_a_held_discord_answer_goes_into_its_placeholder(connection, delivery, platform):
    """The held record names the deferred interaction: the picture answers through it."""
    hold(connection, placeholder=PLACEHOLDER)
    run(delivery.deliver("1-0", picture(connection)))
    assert platform.calls == [("send_file", REPLY, PLACEHOLDER, b"PNG", "iris.png", VERDICT_TEXT, True)]


def test_a_failed_render_sends_the_parked_verdict_first_once(connection, delivery, platform):
    """Verdict parked, then the render job fails: the verdict (clipped), then the failure; a rerun repeats neither."""
    platform.text_limit = 30
    hold(connection, placeholder=PLACEHOLDER)
    run(delivery.deliver("1-0", verdict()))
    run(delivery.deliver("2-0", message("failed", job_id="q1", text="No picture.")))
    assert platform.calls == [
        ("send_text", REPLY, PLACEHOLDER, VERDICT_TEXT[:30]),
        ("send_text", REPLY, PLACEHOLDER, "No picture."),
    ]
    assert not connection.exists(f"quick:{OUTBOX}:q1")
    run(delivery.deliver("3-0", verdict()))
    assert len(platform.calls) == 2


def test_a_failure_while_held_without_verdict_is_sent_alone(connection, delivery, platform):
    """Held ack, no verdict yet, the job fails: only the failure, into the placeholder."""
    hold(connection, placeholder=PLACEHOLDER)
    run(delivery.deliver("1-0", message("failed", job_id="q1", text="Sorry.")))
    assert platform.calls == [("send_text", REPLY, PLACEHOLDER, "Sorry.")]
    assert not connection.exists(f"quick:{OUTBOX}:q1")


def test_a_plain_text_does_not_take_the_held_record(connection, delivery, platform):
    """A text without a result (not a failure) is sent as usual; the ack stays held."""
    hold(connection)
    run(delivery.deliver("1-0", message("text", job_id="q1", text="Note.", final=False)))
    assert platform.calls == [("send_text", REPLY, None, "Note.")]
    assert record_state(connection) == b"held"


def test_a_verdict_of_no_held_job_is_shown_at_once(delivery, platform):
    """No held record: the verdict is sent as the job's first message."""
    run(delivery.deliver("1-0", verdict()))
    assert platform.calls == [("send_text", REPLY, None, VERDICT_TEXT)]


# _show_in_ack


def test_progress_is_edited_into_the_ack_throttled_and_flushed_when_due(connection, make, platform):
    """First progress edits at once; the next within the interval waits and is shown by the flush once due."""
    delivery = make(edit_interval_s=0.2)
    ack = Ack("c1", "a1")
    remember(connection, "j1", ack)
    run(delivery.deliver("1-0", message("progress", job_id="j1", text="10%", final=False)))
    assert ack_of(connection, "j1") == Ack("c1", "a1", shows="progress")
    run(delivery.deliver("2-0", message("progress", job_id="j1", text="20%", final=False)))
    run(delivery.deliver("3-0", message("progress", job_id="j1", text="30%", final=False)))
    run(delivery._flush_progress())
    assert platform.calls == [("edit_text", ack, "10%")]
    time.sleep(0.25)
    run(delivery._flush_progress())
    run(delivery._flush_progress())
    shown = Ack("c1", "a1", shows="progress")
    assert platform.calls == [("edit_text", ack, "10%"), ("edit_text", shown, "30%")]
    assert ack_of(connection, "j1") == shown, "still progress: the end turns it into a notice"
    run(delivery.deliver("4-0", message("progress", job_id="j1", text="40%", final=False)))
    assert len(platform.calls) == 2, "the flush's edit restarts the interval"


def test_progress_a_second_apart_is_edited_each_time(connection, make, platform):
    """Past the interval every progress message is its own edit, the same text again too."""
    delivery = make(edit_interval_s=0.05)
    remember(connection, "j1", Ack("c1", "a1"))
    for entry, text in enumerate(["10%", "10%", "20%"]):
        run(delivery.deliver(f"{entry}-0", message("progress", job_id="j1", text=text, final=False)))
        time.sleep(0.06)
    assert [call[2] for call in platform.calls] == ["10%", "10%", "20%"]


def test_progress_is_never_claimed_so_two_bots_both_show_it(connection, make, platform):
    """Progress is only the newest state, not a part: a second bot's progress of the same job is edited in too."""
    ack = Ack("c1", "a1")
    remember(connection, "j1", ack)
    run(make().deliver("1-0", message("progress", job_id="j1", text="10%", final=False)))
    run(make("other-0").deliver("2-0", message("progress", job_id="j1", text="20%", final=False)))
    assert platform.calls == [("edit_text", ack, "10%"), ("edit_text", Ack("c1", "a1", "progress"), "20%")]
    assert connection.keys("delivered:*") == [], "nor is progress recorded as a delivered part"


def test_progress_without_ack_becomes_the_ack(connection, delivery, platform):
    """No ack stored: the progress is sent as a new message, remembered as the ack showing progress."""
    platform.text_limit = 5
    run(delivery.deliver("1-0", message("progress", job_id="j1", text="Transcribing 10%", final=False)))
    run(delivery.deliver("2-0", message("progress", job_id="j1", text="Transcribing 20%", final=False)))
    ack = Ack("c1", "msg1", shows="progress")
    assert platform.calls == [("send_text", REPLY, None, "Trans"), ("edit_text", ack, "Trans")]
    assert ack_of(connection, "j1") == ack


def test_a_verdict_without_ack_becomes_an_ack_showing_the_result(connection, delivery, platform):
    """The verdict sent as a new message is remembered as showing the result; read again, it is not resent."""
    run(delivery.deliver("1-0", verdict("j1")))
    run(delivery.deliver("2-0", verdict("j1")))
    assert platform.calls == [("send_text", REPLY, None, VERDICT_TEXT)]
    assert ack_of(connection, "j1") == Ack("c1", "msg1", shows="result")


def test_a_verdict_is_edited_into_the_ack_once_and_drops_pending_progress(connection, make, platform):
    """Progress waiting for its edit, then the verdict: the verdict is shown at once and the progress never."""
    delivery = make(edit_interval_s=0.05)
    ack = Ack("c1", "a1")
    remember(connection, "j1", ack)
    run(delivery.deliver("1-0", message("progress", job_id="j1", text="10%", final=False)))
    run(delivery.deliver("2-0", message("progress", job_id="j1", text="20%", final=False)))
    run(delivery.deliver("3-0", verdict("j1")))
    assert delivery._pending_edit == {}
    time.sleep(0.06)
    run(delivery._flush_progress())
    run(delivery.deliver("4-0", verdict("j1")))
    assert platform.calls == [("edit_text", ack, "10%"), ("edit_text", Ack("c1", "a1", "progress"), VERDICT_TEXT)]
    assert ack_of(connection, "j1") == Ack("c1", "a1", shows="result")


def test_a_progress_post_of_no_job_is_sent_without_waiting_or_an_ack(connection, make, platform):
    """No job id: no ack is waited for or remembered."""
    delivery = make(ack_wait_s=5.0)
    started = time.monotonic()
    run(delivery.deliver("1-0", message("progress", text="Working.", final=False)))
    assert time.monotonic() - started < 1.0
    assert platform.calls == [("send_text", REPLY, None, "Working.")]
    assert connection.keys("ack:*") == []


def test_the_first_message_waits_for_the_ack_the_adapter_stores_late(connection, make, platform):
    """The ack is stored 0.1 s after the progress arrives: it is edited, no new message is sent."""
    delivery = make(ack_wait_s=3.0)
    ack = Ack("c1", "a1")

    async def scenario() -> None:
        async def store_late() -> None:
            await asyncio.sleep(0.1)
            remember(connection, "j1", ack)

        late = asyncio.create_task(store_late())
        started = time.monotonic()
        await delivery.deliver("1-0", message("progress", job_id="j1", text="10%", final=False))
        assert 0.09 < time.monotonic() - started < 0.6
        await late

    run(scenario())
    assert platform.calls == [("edit_text", ack, "10%")]


def test_no_ack_within_the_wait_sends_a_new_message(connection, make, platform):
    """ack_wait_s passes with no ack: the progress is sent as its own message after that wait."""
    delivery = make(ack_wait_s=0.15)
    started = time.monotonic()
    run(delivery.deliver("1-0", message("progress", job_id="j1", text="10%", final=False)))
    assert 0.14 < time.monotonic() - started < 0.6
    assert platform.calls == [("send_text", REPLY, None, "10%")]


# _flush_progress


def test_a_job_not_yet_due_does_not_hold_up_the_flush_of_others(connection, make, platform):
    """j1 was edited a moment ago, j2 long ago: the flush edits j2's pending progress, not j1's."""
    delivery = make(edit_interval_s=0.2)
    remember(connection, "j1", Ack("c1", "a1"))
    remember(connection, "j2", Ack("c1", "a2"))
    run(delivery.deliver("1-0", message("progress", job_id="j2", text="j2 10%", final=False)))
    time.sleep(0.15)
    run(delivery.deliver("2-0", message("progress", job_id="j1", text="j1 10%", final=False)))
    run(delivery.deliver("3-0", message("progress", job_id="j1", text="j1 20%", final=False)))
    run(delivery.deliver("4-0", message("progress", job_id="j2", text="j2 20%", final=False)))
    time.sleep(0.07)
    run(delivery._flush_progress())
    assert [call[2] for call in platform.calls] == ["j2 10%", "j1 10%", "j2 20%"]
    assert set(delivery._pending_edit) == {"j1"}


def test_pending_progress_is_not_flushed_into_an_ack_showing_the_result(connection, make, platform):
    """The ack shows the result meanwhile: the pending progress is dropped."""
    delivery = make(edit_interval_s=0.05)
    remember(connection, "j1", Ack("c1", "a1"))
    run(delivery.deliver("1-0", message("progress", job_id="j1", text="10%", final=False)))
    run(delivery.deliver("2-0", message("progress", job_id="j1", text="20%", final=False)))
    remember(connection, "j1", Ack("c1", "a1", shows="result"))
    time.sleep(0.06)
    run(delivery._flush_progress())
    assert [call[2] for call in platform.calls] == ["10%"]
    assert delivery._pending_edit == {}


def test_pending_progress_of_a_forgotten_ack_is_dropped(connection, make, platform):
    """The ack expired from Redis: nothing is edited, nothing stays pending."""
    delivery = make(edit_interval_s=0.05)
    remember(connection, "j1", Ack("c1", "a1"))
    run(delivery.deliver("1-0", message("progress", job_id="j1", text="10%", final=False)))
    run(delivery.deliver("2-0", message("progress", job_id="j1", text="20%", final=False)))
    connection.delete(f"ack:{OUTBOX}:j1")
    time.sleep(0.06)
    run(delivery._flush_progress())
    assert len(platform.calls) == 1 and delivery._pending_edit == {}


def test_a_failed_progress_flush_is_logged_and_dropped(connection, make, platform, logs):
    """The flush's edit is refused: logged, not raised, not tried again."""
    delivery = make(edit_interval_s=0.05)
    remember(connection, "j1", Ack("c1", "a1"))
    run(delivery.deliver("1-0", message("progress", job_id="j1", text="10%", final=False)))
    run(delivery.deliver("2-0", message("progress", job_id="j1", text="20%", final=False)))
    platform.refuse["20%"] = Undeliverable("gone")
    time.sleep(0.06)
    run(delivery._flush_progress())
    run(delivery._flush_progress())
    assert [call[2] for call in platform.calls] == ["10%", "20%"]
    assert logs() == ["progress of job j1 not shown: gone"]


# _held_due (the watcher's work on one due record)


def test_an_early_parked_verdict_shows_the_upload_action_once(connection, delivery, platform):
    """Before the deadline: the chat is shown an upload action, once; the record stays held."""
    hold(connection, window_s=5.0)
    run(delivery.deliver("1-0", verdict()))
    run(delivery._held_due("q1"))
    run(delivery._held_due("q1"))
    assert platform.calls == [("show_activity", REPLY)]
    assert record_state(connection) == b"held"


def test_at_the_deadline_the_ack_is_sent_and_becomes_the_jobs_ack(connection, delivery, platform):
    """No answer within the window: the held ack is sent, remembered, and progress edits it."""
    hold(connection, window_s=0.0)
    run(delivery._held_due("q1"))
    assert platform.calls == [("send_text", REPLY, None, ACK_TEXT)]
    assert ack_of(connection, "q1") == Ack("c1", "msg1", shows="ack")
    assert not connection.exists(f"quick:{OUTBOX}:q1")
    run(delivery.deliver("1-0", message("progress", job_id="q1", text="10%", final=False)))
    assert platform.calls[1] == ("edit_text", Ack("c1", "msg1"), "10%")


def test_at_the_deadline_a_parked_verdict_is_sent_once(connection, delivery, platform):
    """The verdict came but the picture did not: the verdict (clipped) is the message; a rerun does not repeat it."""
    platform.text_limit = 25
    hold(connection, window_s=0.0)
    run(delivery.deliver("1-0", verdict()))
    run(delivery._held_due("q1"))
    assert platform.calls == [("send_text", REPLY, None, VERDICT_TEXT[:25])]
    assert ack_of(connection, "q1") == Ack("c1", "msg1", shows="result")
    assert not connection.exists(f"quick:{OUTBOX}:q1")
    run(delivery.deliver("2-0", verdict()))
    assert len(platform.calls) == 1


def test_at_the_deadline_a_placeholder_is_edited(connection, delivery, platform, quick_backoff):
    """Discord: the deferred response is edited (retried) into the ack, and remembered as the ack."""
    hold(connection, window_s=0.0, placeholder=PLACEHOLDER)
    platform.fail("edit_text", Transient("slow"))
    run(delivery._held_due("q1"))
    assert platform.calls == [("edit_text", PLACEHOLDER, ACK_TEXT)] * 2
    assert ack_of(connection, "q1") == PLACEHOLDER


def test_a_record_taken_by_another_process_is_left_to_it(connection, delivery, platform):
    """Taken elsewhere first: nothing is sent, and the record stays that process's."""
    hold(connection, window_s=0.0).take("q1")
    run(delivery._held_due("q1"))
    assert platform.calls == [] and record_state(connection) == b"taken"


def test_a_record_of_an_answered_job_is_dropped(connection, delivery, platform):
    """Taken again after a kill, but the answer was delivered: nothing is sent, the record is removed."""
    hold(connection, window_s=0.0)
    run(delivery.deliver("1-0", message("text", job_id="q1", text="Done.")))
    platform.calls.clear()
    run(delivery._held_due("q1"))
    assert platform.calls == [] and not connection.exists(f"quick:{OUTBOX}:q1")


def test_a_record_whose_verdict_was_shown_is_dropped(connection, delivery, platform):
    """The parked verdict is marked sent already: nothing is sent, the record is removed."""
    hold(connection, window_s=0.0)
    run(delivery.deliver("1-0", verdict()))
    delivery.delivered.mark(delivery.delivered.job_key("q1"), "verdict:0")
    run(delivery._held_due("q1"))
    assert platform.calls == [] and not connection.exists(f"quick:{OUTBOX}:q1")


def test_a_verdict_another_process_is_sending_is_left_to_it(connection, delivery, platform):
    """Another consumer claimed the verdict a moment ago: nothing is sent, the record is kept for after its lease."""
    hold(connection, window_s=0.0)
    run(delivery.deliver("1-0", verdict()))
    other = DeliveredParts(connection, OUTBOX, "other-0")
    assert other.claim(other.job_key("q1"), "verdict:0")
    run(delivery._held_due("q1"))
    assert platform.calls == [] and record_state(connection) == b"taken"


def test_a_held_ack_to_a_gone_chat_is_dropped(connection, delivery, platform):
    """Undeliverable: raised to the watcher, and the record removed."""
    hold(connection, window_s=0.0)
    platform.fail("send_text", Undeliverable("blocked"))
    with pytest.raises(Undeliverable):
        run(delivery._held_due("q1"))
    assert not connection.exists(f"quick:{OUTBOX}:q1")


def test_a_held_ack_that_failed_otherwise_is_held_again(connection, delivery, platform):
    """Any other DeliveryError: raised, and the record held again, due in about 5 s."""
    hold(connection, window_s=0.0)
    platform.fail("send_text", DeliveryError("odd"))
    with pytest.raises(DeliveryError):
        run(delivery._held_due("q1"))
    assert record_state(connection) == b"held"
    assert 4 < connection.zscore(f"quick:{OUTBOX}", "q1") - time.time() <= 5
    assert ack_of(connection, "q1") is None


# _deliver_chat


def post(connection, reply: ReplyTo = REPLY, **fields: Any) -> str:
    return outbox.post(connection, OutboxMessage(reply=reply, **fields))


def pending(connection) -> int:
    return connection.xpending(f"outbox:{OUTBOX}", "bots")["pending"]


def test_an_undeliverable_entry_is_dropped_acked_and_the_chat_goes_on(connection, delivery, platform, logs):
    """The chat is gone for the first entry: logged, acked; the next entry is sent and acked."""
    first = post(connection, kind="text", job_id="j1", text="One.")
    post(connection, kind="text", job_id="j2", text="Two.")
    platform.fail("send_text", Undeliverable("gone"))
    run(delivery._deliver_chat(delivery.reader.read(10)))
    assert [call[3] for call in platform.calls] == ["One.", "Two."]
    assert pending(connection) == 0
    assert logs() == [f"dropping outbox entry {first} of job j1: gone"]


def test_each_entry_of_no_job_is_sent_and_acked(connection, delivery, platform):
    """Two identical monitoring posts (no job id) are two entries: both sent, both acked."""
    post(connection, kind="text", text="Daily.")
    post(connection, kind="text", text="Daily.")
    run(delivery._deliver_chat(delivery.reader.read(10)))
    assert platform.calls == [("send_text", REPLY, None, "Daily.")] * 2
    assert pending(connection) == 0


def test_a_failed_entry_stays_unacked_and_stops_its_chat(connection, delivery, platform, logs):
    """Another DeliveryError: the entry is left pending and later entries of that chat wait."""
    first = post(connection, kind="text", job_id="j1", text="One.")
    post(connection, kind="text", job_id="j2", text="Two.")
    platform.fail("send_text", DeliveryError("odd"))
    run(delivery._deliver_chat(delivery.reader.read(10)))
    assert [call[3] for call in platform.calls] == ["One."]
    assert pending(connection) == 2
    assert logs() == [f"could not deliver entry {first} of job j1: odd"]


def test_an_entry_another_bot_is_sending_waits(connection, delivery, platform, logs):
    """Another consumer claimed the piece just now: nothing sent, the entry and the chat's later ones wait."""
    post(connection, kind="text", job_id="j1", text="One.")
    post(connection, kind="text", job_id="j2", text="Two.")
    other = DeliveredParts(connection, OUTBOX, "other-0")
    assert other.claim(other.job_key("j1"), "text:0")
    run(delivery._deliver_chat(delivery.reader.read(10)))
    assert platform.calls == [] and pending(connection) == 2
    assert logs() == ["part text:0 of job j1 is being sent by another bot"]


# run: the outbox loop and the watcher together


class CountingReader(OutboxReader):
    """The real reader, remembering how long each read may block."""

    def __init__(self, *args: Any, fail: list[BaseException] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.blocks: list[int] = []
        self.fail = fail or []

    def read(self, block_ms: int = 1000, count: int = 50) -> list[tuple[str, OutboxMessage]]:
        self.blocks.append(block_ms)
        if self.fail:
            raise self.fail.pop(0)
        return super().read(block_ms, count)


async def running(delivery: Delivery, condition, timeout: float = 5.0) -> None:
    """Run delivery until ``condition``, then stop it; it must end by itself within a second."""
    task = asyncio.create_task(delivery.run())
    try:
        await until(lambda: condition() or task.done(), timeout)
        delivery.stop()
        await asyncio.wait_for(task, 1.5)
    finally:
        task.cancel()


def test_run_delivers_chats_independently_in_order_and_stops(connection, platform, quick_backoff):
    """Chat c1's first entry fails, so its second waits; chat c2's entries go in order; stop ends run."""
    reader = CountingReader(connection, OUTBOX, consumer="test-0")
    delivery = Delivery(platform, connection, reader, edit_interval_s=0.0, ack_wait_s=0.0)
    platform.refuse["c1 one"] = DeliveryError("odd")
    post(connection, kind="text", job_id="a1", text="c1 one")
    post(connection, kind="text", job_id="b1", text="c2 one", reply=OTHER)
    post(connection, kind="text", job_id="a2", text="c1 two")
    post(connection, kind="text", job_id="b2", text="c2 two", reply=OTHER)
    run(running(delivery, lambda: len(platform.calls) >= 3))
    assert [call[3] for call in platform.calls] == ["c1 one", "c2 one", "c2 two"]
    assert pending(connection) == 2
    assert reader.blocks and set(reader.blocks) == {500}


def test_run_flushes_pending_progress_after_a_batch(connection, platform):
    """Two quick progress posts: the second is edited in after the next batch, the interval having passed."""
    delivery = Delivery(platform, connection, OutboxReader(connection, OUTBOX, consumer="t"), edit_interval_s=0.05)
    remember(connection, "j1", Ack("c1", "a1"))
    post(connection, kind="progress", job_id="j1", text="10%", final=False)
    post(connection, kind="progress", job_id="j1", text="20%", final=False)

    async def scenario() -> None:
        async def another_chat_later() -> None:
            await asyncio.sleep(0.1)
            post(connection, kind="text", text="Daily.", reply=OTHER)

        later = asyncio.create_task(another_chat_later())
        await running(delivery, lambda: len(platform.calls) >= 3)
        await later

    run(scenario())
    assert [call[-1] for call in platform.calls] == ["10%", "Daily.", "20%"]


def test_run_waits_a_second_when_the_outbox_is_unreachable(connection, platform, sleeps, logs):
    """A connection error reading the outbox: logged, one second's wait, then the entries are delivered."""
    reader = CountingReader(connection, OUTBOX, consumer="t", fail=[redis.exceptions.ConnectionError("down")])
    delivery = Delivery(platform, connection, reader, edit_interval_s=0.0, ack_wait_s=0.0)
    post(connection, kind="text", job_id="j1", text="Hello.")
    run(running(delivery, lambda: platform.calls))
    assert platform.calls == [("send_text", REPLY, None, "Hello.")]
    assert 1 in sleeps
    assert "outbox unreachable, retrying in 1 s: down" in logs()


def test_run_ends_with_an_unexpected_error_and_cancels_the_other_loop(connection, platform):
    """An error other than a lost connection ends run with it; no loop is left running."""
    reader = CountingReader(connection, OUTBOX, consumer="t", fail=[RuntimeError("bug")])
    delivery = Delivery(platform, connection, reader)

    async def scenario() -> None:
        with pytest.raises(RuntimeError, match="bug"):
            await asyncio.wait_for(delivery.run(), 2)
        await asyncio.sleep(0.01)
        assert asyncio.all_tasks() == {asyncio.current_task()}

    run(scenario())


def test_the_watcher_sends_held_acks_at_their_deadline(connection, platform, monkeypatch):
    """While run runs, a held ack whose window passed is sent by the watcher."""
    monkeypatch.setattr(bot.delivery, "WATCH_INTERVAL_S", 0.01)
    delivery = Delivery(platform, connection, OutboxReader(connection, OUTBOX, consumer="t"))
    hold(connection, window_s=0.1)
    started = time.monotonic()
    run(running(delivery, lambda: platform.calls))
    assert platform.calls == [("send_text", REPLY, None, ACK_TEXT)]
    assert time.monotonic() - started >= 0.05


def test_the_watcher_logs_a_failed_held_ack_and_goes_on(connection, platform, sleeps, logs):
    """One held ack's chat is gone: logged; the watcher keeps checking at WATCH_INTERVAL_S and sends the next."""
    delivery = Delivery(platform, connection, OutboxReader(connection, OUTBOX, consumer="t"))
    hold(connection, "q0", window_s=0.0)
    hold(connection, "q1", window_s=0.0)
    platform.fail("send_text", Undeliverable("blocked"))
    run(running(delivery, lambda: len(platform.calls) >= 2))
    assert platform.calls == [("send_text", REPLY, None, ACK_TEXT)] * 2
    assert ack_of(connection, "q0") is None and ack_of(connection, "q1") == Ack("c1", "msg1")
    assert "a held acknowledgement could not be sent: blocked" in logs()
    assert bot.delivery.WATCH_INTERVAL_S in sleeps


def test_the_watcher_waits_a_second_when_redis_is_unreachable(connection, platform, sleeps, logs, monkeypatch):
    """A connection error listing due acks: logged, one second's wait, then the held ack is sent."""
    delivery = Delivery(platform, connection, OutboxReader(connection, OUTBOX, consumer="t"))
    due_now = delivery.quick.due_now
    errors = [redis.exceptions.ConnectionError("down")]

    def flaky() -> list[str]:
        if errors:
            raise errors.pop()
        return due_now()

    monkeypatch.setattr(delivery.quick, "due_now", flaky)
    hold(connection, window_s=0.0)
    run(running(delivery, lambda: platform.calls))
    assert platform.calls == [("send_text", REPLY, None, ACK_TEXT)]
    assert sleeps[0] == 1
    assert "held acknowledgements unreachable, retrying: down" in logs()
