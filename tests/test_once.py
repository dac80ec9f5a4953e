"""One visible answer per command: a job or render job that runs twice, a bot killed mid-delivery.

Real RQ workers run the real job functions; delivery is the real python-telegram-bot against the
Bot API emulator, which counts what the chat shows.
"""

from __future__ import annotations

import asyncio
import signal

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from bot.delivered import TTL_S, DeliveredParts, InFlight
from bot.delivery import Ack, AckStore
from common import outbox
from common.jobs import OutboxMessage, PictureRequest, PredictionRequest, ReplyTo
from common.queues import PREDICT, RENDER, JobQueue
from tests.helpers import IRIS_SETOSA, wait_for
from tests.test_delivery import delivering, until

CHAT = 111
REPLY = ReplyTo(outbox="telegram", chat=str(CHAT), message="77", user="7")
IRIS = {"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}


def run_again(connection, job_id: str) -> None:
    """Put a finished job back on its queue, as a lost worker or a Redis outage does."""
    job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    JobQueue(connection).queue(job.origin).enqueue_job(job)


def delivered_all(connection, entries: int) -> bool:
    """``entries`` were posted, and the bots read and acknowledged each."""
    stream = "outbox:telegram"
    if connection.xlen(stream) != entries or connection.xpending(stream, "bots")["pending"]:
        return False
    [group] = connection.xinfo_groups(stream)
    return entries == 0 or group["last-delivered-id"] == connection.xinfo_stream(stream)["last-generated-id"]


def deliver_until(api, connection, entries: int) -> None:
    """Run delivery (PTB against the emulator) until ``entries`` outbox entries are delivered."""

    async def scenario() -> None:
        async with delivering(api, connection):
            await until(lambda: delivered_all(connection, entries))

    asyncio.run(scenario())


def test_a_prediction_run_twice_shows_its_verdict_and_picture_once(telegram_api, connection, burst_worker):
    """The same job runs twice (and with it its render job): the ack is edited once, one photo is sent."""
    request = PredictionRequest(model="iris", features=IRIS, reply=REPLY)
    job_id = JobQueue(connection).enqueue(PREDICT, "workers.predict.run", request.to_dict()).job_id
    deliver_until(telegram_api, connection, 0)

    async def acknowledge() -> None:
        async with delivering(telegram_api, connection) as delivery:
            ack_id = await delivery.platform.send_text(REPLY, None, f"Working on it (job {job_id}).")
            AckStore(connection, "telegram").remember(job_id, Ack(str(CHAT), ack_id))

    asyncio.run(acknowledge())
    burst_worker()  # the job and its render job
    deliver_until(telegram_api, connection, 2)
    run_again(connection, job_id)
    burst_worker()  # both again
    deliver_until(telegram_api, connection, 4)
    ack, photo = telegram_api.chat(CHAT)
    assert ack.edits == [f"Working on it (job {job_id}).", ack.text] and ack.text.startswith("Iris: virginica")
    assert photo.photo is not None and photo.caption.startswith("Iris: virginica")
    assert len(telegram_api.calls_of("sendPhoto")) == 1 and len(telegram_api.calls_of("editMessageText")) == 1


def test_a_render_job_run_twice_sends_one_picture(telegram_api, connection, burst_worker):
    """Two render jobs of one prediction (a retried one, a second enqueue): the chat gets one photo."""
    picture = PictureRequest(job_id="prediction-1", reply=REPLY, result={**IRIS_SETOSA, "features": IRIS})
    for _ in range(2):
        JobQueue(connection).enqueue(RENDER, "workers.render.run", picture.to_dict())
    burst_worker()
    deliver_until(telegram_api, connection, 2)
    [photo] = telegram_api.chat(CHAT)
    assert photo.photo is not None and photo.caption.startswith("Iris: setosa")
    assert len(telegram_api.calls_of("sendPhoto")) == 1


@pytest.mark.slow
def test_a_bot_killed_mid_delivery_while_the_job_runs_again_shows_each_part_once(
    telegram_api, start_telegram_bot, connection, burst_worker
):
    """SIGKILL while the photo is being sent, the job runs again meanwhile: after the restart, one photo."""
    bot, _ = start_telegram_bot()
    telegram_api.hold("sendPhoto")
    telegram_api.user_says("/iris 6.7 3.0 5.2 2.3", chat_id=CHAT)
    queue = JobQueue(connection).queue(PREDICT)
    [job_id] = wait_for(lambda: queue.job_ids)
    burst_worker()
    assert telegram_api.held["sendPhoto"].wait(20)
    bot.send_signal(signal.SIGKILL)
    bot.wait(5)
    telegram_api.release("sendPhoto")  # refused (502): the kill came before the photo reached the chat
    run_again(connection, job_id)
    burst_worker()
    start_telegram_bot()
    wait_for(lambda: [m for m in telegram_api.chat(CHAT) if m.photo is not None], timeout=30)
    wait_for(lambda: delivered_all(connection, 4), timeout=30)
    chat = telegram_api.chat(CHAT)
    assert [m.photo is not None for m in chat].count(True) == 1
    verdicts = [m for m in chat if (m.text or m.caption).startswith("Iris: virginica")]
    assert len(verdicts) == len({m.photo is None for m in verdicts}), "at most one text and one caption"
    assert [c.status for c in telegram_api.calls_of("sendPhoto")] == [502, 200]


def test_a_failure_reported_after_the_answer_is_not_shown(telegram_api, connection):
    """The job's final message was delivered; a failure of a later run of it is dropped."""
    outbox.post(connection, OutboxMessage(kind="text", reply=REPLY, job_id="j9", text="Hej.", part="transcript"))
    outbox.post(connection, OutboxMessage(kind="failed", reply=REPLY, job_id="j9", text="Sorry, job j9 failed."))
    deliver_until(telegram_api, connection, 2)
    assert [m.text for m in telegram_api.chat(CHAT)] == ["Hej."]


def claimed(parts: DeliveredParts, key: str, piece: str) -> bool:
    try:
        return parts.claim(key, piece)
    except InFlight:
        return False


def test_a_claim_is_ours_again_after_a_restart_and_anothers_only_once_stale(connection):
    """Claims name their consumer: the same name takes its own back, another waits until it is stale."""
    first = DeliveredParts(connection, "telegram", "host-0")
    other = DeliveredParts(connection, "telegram", "host-1", stale_s=0.5)
    key = "delivered:telegram:job:j1"
    assert first.claim(key, "picture:0")
    with pytest.raises(InFlight):
        other.claim(key, "picture:0")
    assert DeliveredParts(connection, "telegram", "host-0").claim(key, "picture:0"), "restarted: ours again"
    wait_for(lambda: claimed(other, key, "picture:0"), timeout=5)  # stale: the other consumer may send it
    other.mark(key, "picture:0")
    assert not first.claim(key, "picture:0") and not other.claim(key, "picture:0")
    assert 0 < connection.ttl(key) <= TTL_S
