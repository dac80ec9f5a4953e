"""bot/limits.py: per-user rate limit and maximum queue length, on a real Redis and real RQ queues."""

from __future__ import annotations

import pytest

from bot.commands import Commands
from bot.limits import LimitOptions, Limits
from common.errors import Busy
from common.jobs import ReplyTo
from common.queues import PREDICT, JobQueue

IRIS = "/iris 5.1 3.5 1.4 0.2"
START = 1_800_000_000.0  # epoch seconds of a test's first job


def test_a_user_over_the_rate_limit_is_told_when_to_come_back(connection):
    """The third job within the window is refused with the seconds until the oldest one ages out."""
    limits = Limits(connection, JobQueue(connection), LimitOptions(jobs_per_window=2, window_s=60))
    limits.admit("telegram:7", PREDICT)
    limits.admit("telegram:7", PREDICT)
    with pytest.raises(Busy) as refused:
        limits.admit("telegram:7", PREDICT)
    assert 59 <= refused.value.retry_after <= 60
    assert str(refused.value) == (
        f"You have sent 2 jobs in the last 60 s, my limit: busy, try again in {refused.value.retry_after} s."
    )
    limits.admit("telegram:8", PREDICT)  # another user
    limits.admit("discord:7", PREDICT)  # the same id on another platform is another user


class Clock:
    """Epoch seconds that a test moves forward, so no test waits for a window to pass or races its edge."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_window_slides_and_refused_attempts_do_not_count(connection):
    """Refusals neither extend the wait nor use up the quota: once the admitted jobs age out, all of it is back."""
    clock = Clock()
    limits = Limits(connection, JobQueue(connection), LimitOptions(jobs_per_window=2, window_s=60), clock=clock)
    limits.admit("telegram:7", PREDICT)
    clock.now += 10
    limits.admit("telegram:7", PREDICT)
    for waited in (20, 30, 45):  # refused at 20, 30 and 45 s: each told to come back when the first job ages out
        clock.now = START + waited
        with pytest.raises(Busy) as refused:
            limits.admit("telegram:7", PREDICT)
        assert refused.value.retry_after == 60 - waited
    clock.now = START + 60.5  # the first job has aged out; the refusals at 20-45 s must not count
    limits.admit("telegram:7", PREDICT)
    with pytest.raises(Busy) as refused:  # the job at 10 s and the one just now fill the window again
        limits.admit("telegram:7", PREDICT)
    assert refused.value.retry_after == 10  # the job at 10 s ages out at 70 s; rounded up, never "0 s"
    clock.now = START + 70.5
    limits.admit("telegram:7", PREDICT)


def test_a_wait_under_a_second_is_rounded_up_to_one(connection):
    """A window of 0.5 s: the refusal says "1 s", never "0 s"."""
    clock = Clock()
    limits = Limits(connection, JobQueue(connection), LimitOptions(jobs_per_window=1, window_s=0.5), clock=clock)
    limits.admit("telegram:7", PREDICT)
    clock.now += 0.1
    with pytest.raises(Busy) as refused:
        limits.admit("telegram:7", PREDICT)
    assert refused.value.retry_after == 1
    clock.now += 0.5
    limits.admit("telegram:7", PREDICT)


def test_a_limit_of_no_jobs_refuses_every_job_for_a_whole_window(connection):
    """jobs_per_window=0 admits nothing: the user is told to come back after the window, not in "0 s"."""
    limits = Limits(connection, JobQueue(connection), LimitOptions(jobs_per_window=0, window_s=60), clock=Clock())
    with pytest.raises(Busy) as refused:
        limits.admit("telegram:7", PREDICT)
    assert refused.value.retry_after == 60


def test_a_full_queue_is_refused_with_its_retry_time_and_logged(connection, caplog):
    """The refusal carries queue_full_retry_s; the warning names the queue, its length and the user."""
    queue = JobQueue(connection)
    limits = Limits(connection, queue, LimitOptions(max_queue_length=1, queue_full_retry_s=45))
    queue.enqueue(PREDICT, "workers.predict.run", {})
    with caplog.at_level("WARNING", logger="bot.limits"), pytest.raises(Busy) as refused:
        limits.admit("telegram:7", PREDICT)
    assert refused.value.retry_after == 45
    assert str(refused.value) == "Sorry, my queue is full right now: busy, try again in 45 s."
    assert caplog.messages == ["queue predict is full (1 waiting): refusing a job of telegram:7"]


def test_a_full_queue_refuses_new_jobs(connection):
    """With max_queue_length jobs waiting (no worker), the next one is refused for everyone."""
    queue = JobQueue(connection)
    commands = Commands(queue, limits=Limits(connection, queue, LimitOptions(max_queue_length=2)))
    answers = [commands.handle(IRIS, ReplyTo(outbox="telegram", chat=str(n), user=str(n))) for n in range(3)]
    assert [a.job_id is not None for a in answers] == [True, True, False]
    assert answers[2].text == "Sorry, my queue is full right now: busy, try again in 30 s."
    assert queue.waiting(PREDICT) == 2


def test_commands_apply_the_rate_limit_only_to_valid_jobs(connection):
    """Bad commands cost nothing; the job over the limit is answered 'busy' and not queued."""
    queue = JobQueue(connection)
    commands = Commands(queue, limits=Limits(connection, queue, LimitOptions(jobs_per_window=2)))
    reply = ReplyTo(outbox="discord", chat="500", user="7")
    assert "takes 4 measurements" in commands.handle("/iris 1 2 3", reply).text
    assert commands.handle(IRIS, reply).job_id and commands.handle(IRIS, reply).job_id
    busy = commands.handle(IRIS, reply)
    assert busy.job_id is None and "busy, try again in" in busy.text
    assert queue.waiting(PREDICT) == 2
