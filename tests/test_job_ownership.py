"""/status and /cancel answer only the chat that queued the job: its platform (outbox) and its chat id."""

from __future__ import annotations

import redis

from bot.commands import Commands
from common.jobs import ReplyTo
from common.queues import PREDICT, JobQueue

# Every console session's chat is "console"; each session has an outbox of its own (bot/console.py).
CONSOLE_A = ReplyTo(outbox="console-1a2b3c4d", chat="console", user="console")
CONSOLE_B = ReplyTo(outbox="console-5e6f7a8b", chat="console", user="console")
# Telegram's and Discord's chat ids are separate spaces: the same number is two different chats.
TELEGRAM = ReplyTo(outbox="telegram", chat="1234567890")
DISCORD = ReplyTo(outbox="discord", chat="1234567890")


def test_another_console_session_can_neither_see_nor_cancel_a_job(connection: redis.Redis):
    commands = Commands(JobQueue(connection))
    job_id = commands.handle("/iris 5.1 3.5 1.4 0.2", CONSOLE_A).job_id
    assert job_id
    for asked in (job_id, job_id[:8]):
        assert commands.handle(f"/status {asked}", CONSOLE_B).text.startswith(f"I have no job {asked} of yours")
        assert commands.handle(f"/cancel {asked}", CONSOLE_B).text.startswith(f"I have no job {asked} of yours")
    assert JobQueue(connection).waiting(PREDICT) == 1, "the other session's /cancel left the job alone"
    assert commands.handle(f"/status {job_id}", CONSOLE_A).text == f"Job {job_id} is 1st in line."


def test_the_same_chat_id_on_another_platform_is_another_chat(connection: redis.Redis):
    commands = Commands(JobQueue(connection))
    job_id = commands.handle("/iris 5.1 3.5 1.4 0.2", TELEGRAM).job_id
    assert job_id
    assert commands.handle(f"/cancel {job_id}", DISCORD).text.startswith(f"I have no job {job_id} of yours")
    assert commands.handle(f"/cancel {job_id}", TELEGRAM).text == f"Cancelled job {job_id}."
