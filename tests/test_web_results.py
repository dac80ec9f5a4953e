"""The web outbox moved into per-job lists: any web process answers any session, nothing is lost."""

from __future__ import annotations

import asyncio

from bot.commands import Commands
from common import outbox
from common.jobs import OutboxMessage, ReplyTo
from common.outbox import OutboxReader
from common.queues import JobQueue
from tests.helpers import wait_for
from web.results import OUTBOX, OutboxPump, Results, job_key
from web.service import WebService, visitor

REPLY = ReplyTo(outbox=OUTBOX, chat="alice", user="alice")


def post(connection, job_id: str, count: int) -> None:
    for index in range(count):
        outbox.post(connection, OutboxMessage(kind="progress", reply=REPLY, job_id=job_id, text=f"step {index}",
                                              final=index == count - 1))  # fmt: skip


def test_two_web_processes_pumps_put_every_message_in_its_jobs_list_in_order(connection):
    """Two consumers of the one outbox (two web processes): each job's list is complete, in order, all acked."""
    pumps = [OutboxPump(OutboxReader(connection, OUTBOX, consumer=f"web-{n}"), Results(connection)) for n in (1, 2)]
    for pump in pumps:
        pump.start()
    try:
        for job in ("job-a", "job-b", "job-c"):
            post(connection, job, 20)
        results = Results(connection)
        for job in ("job-a", "job-b", "job-c"):
            wait_for(lambda job=job: connection.llen(job_key(job)) == 20)
            assert [m.text for _, m in results.of_job(job)] == [f"step {i}" for i in range(20)]
        assert connection.xpending("outbox:web", "bots")["pending"] == 0
    finally:
        for pump in pumps:
            pump.stop()


def test_entries_a_dead_web_process_had_read_are_claimed_by_another(connection):
    """A process that read but died before moving them: another claims them once stale."""
    dead = OutboxReader(connection, OUTBOX, consumer="web-dead")
    post(connection, "job-d", 3)
    assert len(dead.read(block_ms=10)) == 3  # read, never acked
    pump = OutboxPump(OutboxReader(connection, OUTBOX, consumer="web-alive", claim_idle_ms=50), Results(connection))
    pump.start()
    try:
        wait_for(lambda: connection.llen(job_key("job-d")) == 3)
    finally:
        pump.stop()


def test_follow_yields_up_to_the_first_final_message_and_job_lists_are_per_user(connection):
    """A job that ran twice lists two answers: a page shows the first through its final message."""
    service = WebService(Commands(JobQueue(connection)), connection, logins=True, public=False)
    post(connection, "job-e", 2)
    post(connection, "job-e", 2)  # the rerun
    pump = OutboxPump(OutboxReader(connection, OUTBOX, consumer="web-1"), Results(connection))
    pump.start()

    async def collect() -> list[tuple[str, bool]]:
        return [(message.text, message.final) async for message in service.follow("job-e", wait_s=10)]

    try:
        wait_for(lambda: connection.llen(job_key("job-e")) == 4)
        assert asyncio.run(collect()) == [("step 0", False), ("step 1", True)]
    finally:
        pump.stop()
    alice, bob = visitor("alice", "s1"), visitor(None, "s2")
    service.results.remember_job(alice.who, "job-e", "iris")
    assert [entry["job"] for entry in service.results.jobs_of(alice.who)] == ["job-e"]
    assert service.results.jobs_of(bob.who) == [] and bob.who == "anon-s2"
    assert service.may_run_rounds(alice) and not service.may_run_rounds(bob)  # logins on: anonymous may not


def test_follow_ends_when_nothing_comes_in_time(connection):
    service = WebService(Commands(JobQueue(connection)), connection, logins=False, public=False)

    async def collect() -> list[str]:
        return [message.text async for message in service.follow("no-such-job", wait_s=0.3)]

    assert asyncio.run(collect()) == []
    assert service.may_run_rounds(visitor(None, "s3"))  # no logins, loopback: the operator


def test_messages_stored_out_of_order_by_two_processes_are_followed_in_the_outboxs_order(connection):
    """The final one stored first (another process was slower with an earlier batch): the page still sees all."""
    service = WebService(Commands(JobQueue(connection)), connection, logins=False, public=False)
    results = Results(connection)
    transcript = OutboxMessage(kind="text", reply=REPLY, job_id="job-f", text="Transcript: hej", final=False)
    srt = OutboxMessage(kind="document", reply=REPLY, job_id="job-f", text="Subtitles", final=True)
    results.add("1700000000000-1", srt)

    async def collect() -> list[str]:
        shown = []
        async for message in service.follow("job-f", wait_s=10):
            shown.append(message.text)
            if len(shown) == 1:  # the earlier entry lands just after the final one was seen
                results.add("1700000000000-0", transcript)
        return shown

    assert asyncio.run(collect()) == ["Subtitles", "Transcript: hej"]
    assert [m.text for _, m in results.of_job("job-f")] == ["Transcript: hej", "Subtitles"]
