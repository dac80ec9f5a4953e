"""/status and /cancel take a job's full id or the short id (its first characters) the bot shows."""

from __future__ import annotations

import redis

from bot.commands import Commands
from common.jobs import ReplyTo
from common.queues import PREDICT, JobQueue

ALICE = ReplyTo(outbox="console-test", chat="alice", user="alice")
BOB = ReplyTo(outbox="console-test", chat="bob", user="bob")


def queued_job_id(commands: Commands, reply: ReplyTo) -> str:
    answer = commands.handle("/iris 5.1 3.5 1.4 0.2", reply)
    assert answer.job_id, answer.text
    return answer.job_id


def test_status_and_cancel_take_the_8_character_short_id(connection: redis.Redis):
    """The first 8 characters of a job id find the job, in status and cancel alike."""
    commands = Commands(JobQueue(connection))
    job_id = queued_job_id(commands, ALICE)
    short = job_id[:8]
    assert commands.handle(f"/status {short}", ALICE).text == f"Job {job_id} is 1st in line."
    assert commands.handle(f"/status {short.upper()}", ALICE).text == f"Job {job_id} is 1st in line."
    assert commands.handle(f"/cancel {short}", ALICE).text == f"Cancelled job {job_id}."
    assert JobQueue(connection).waiting(PREDICT) == 0


def test_a_short_id_finds_only_the_chats_own_jobs(connection: redis.Redis):
    commands = Commands(JobQueue(connection))
    job_id = queued_job_id(commands, ALICE)
    answer = commands.handle(f"/status {job_id[:8]}", BOB).text
    assert answer.startswith(f"I have no job {job_id[:8]} of yours")
    assert commands.handle(f"/cancel {job_id[:8]}", BOB).text.startswith("I have no job")
    assert JobQueue(connection).waiting(PREDICT) == 1, "bob's /cancel left alice's job alone"


def test_a_prefix_shared_by_two_of_the_chats_jobs_asks_for_more(connection: redis.Redis):
    queue = JobQueue(connection)
    payload = {"model": "iris", "features": {}, "reply": ALICE.to_dict()}
    for job_id in ("abcdef123456", "abcdef654321"):
        queue.queue(PREDICT).enqueue("workers.predict.run", payload, job_id=job_id)
    commands = Commands(queue)
    ambiguous = commands.handle("/status abcdef", ALICE).text
    assert ambiguous == "Several of your jobs start with abcdef: give more of the id."
    assert commands.handle("/status abcdef1", ALICE).text == "Job abcdef123456 is 1st in line."


def test_a_too_short_or_unknown_prefix_finds_nothing(connection: redis.Redis):
    commands = Commands(JobQueue(connection))
    job_id = queued_job_id(commands, ALICE)
    assert commands.handle(f"/status {job_id[:4]}", ALICE).text.startswith(f"I have no job {job_id[:4]} of yours")
    assert commands.handle("/status 00000000", ALICE).text.startswith("I have no job 00000000 of yours")
