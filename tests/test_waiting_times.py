"""Honest waiting times: workers record run times, the acknowledgement and /status turn them into "about N min".

Durations are recorded into Redis as a worker would (no sleeps); a worker registered for a queue
but not taking jobs keeps them in line, so the place in line is known exactly.
"""

from __future__ import annotations

import pytest
from rq import Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from bot.commands import Commands
from bot.queue_watch import QueueWatch
from common import durations
from common.jobs import PredictionRequest, ReplyTo
from common.queues import PREDICT, TRANSCRIBE, JobQueue
from common.registry import LocalModelRegistry
from models.cache import ModelCache
from tests.emulators.discord_api import Upload
from tests.helpers import wait_for
from workers import context
from workers.heartbeat import HeartbeatWorker, Liveness

REPLY = ReplyTo("telegram", "111", user="7")
IRIS = "/iris 5.1 3.5 1.4 0.2"


def idle_workers(connection, queue: str, count: int) -> None:
    """Workers that serve ``queue`` as far as the bots can tell, and take nothing."""
    for number in range(count):
        Worker([queue], connection=connection, name=f"idle-{queue}-{number}").register_birth()


def commands(connection) -> Commands:
    return Commands(JobQueue(connection), watch=QueueWatch(connection, cache_s=0))


def test_no_figure_without_recorded_runs_or_without_workers(connection):
    idle_workers(connection, PREDICT, 1)
    first = commands(connection).handle(IRIS, REPLY)
    assert first.text == f"Queued as job {first.job_id}: 1st in line."
    assert durations.wait_s(30.0, 1, workers=0) is None


def test_the_acknowledgement_says_about_how_long_from_the_recorded_runs(connection):
    idle_workers(connection, PREDICT, 2)
    for run_s in (40.0, 50.0, 60.0, 70.0, 80.0):  # median 60 s
        durations.record(connection, PREDICT, run_s)
    bot = commands(connection)
    answers = [bot.handle(IRIS, REPLY) for _ in range(3)]
    # 1st and 2nd in line: the next free worker (the running jobs half done) then their own run: 90 s;
    # 3rd: a round later, 150 s.
    assert [answer.text.split(": ", 1)[1] for answer in answers] == [
        "1st in line (about 2 min).", "2nd in line (about 2 min).", "3rd in line (about 3 min)."]
    status = bot.handle(f"/status {answers[2].job_id}", REPLY).text
    assert status == f"Job {answers[2].job_id} is 3rd in line (about 3 min)."


def test_speech_is_estimated_per_second_of_audio(connection):
    # 0.25 s of work per second of audio (the median rate), 120 s the median length: 30 s a job.
    for run_s, audio_s in ((10.0, 20.0), (30.0, 120.0), (120.0, 600.0)):
        durations.record(connection, TRANSCRIBE, run_s, audio_s)
    assert durations.typical_run_s(connection, TRANSCRIBE) == pytest.approx(0.25 * 120)
    assert durations.about(durations.wait_s(30.0, 4, workers=1) or 0) == "about 3 min"


def test_only_the_last_runs_count(connection):
    for _ in range(durations.KEEP):
        durations.record(connection, PREDICT, 100.0)
    for _ in range(durations.KEEP // 2 + 1):
        durations.record(connection, PREDICT, 1.0)
    assert connection.llen(durations.key(PREDICT)) == durations.KEEP
    assert durations.typical_run_s(connection, PREDICT) == 1.0
    assert 0 < connection.ttl(durations.key(PREDICT)) <= durations.TTL_S


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(3, "a few seconds"), (12, "about 20 s"), (59, "about 60 s"), (61, "about 2 min"), (3600, "about 1 h"),
     (4000, "about 1 h 7 min")],
)
def test_durations_are_said_roughly(seconds, said):
    assert durations.about(seconds) == said


def test_a_worker_records_each_finished_run(connection, model_dir):
    context.install(context.WorkerContext(models=ModelCache(LocalModelRegistry(model_dir))))
    queue = JobQueue(connection)
    request = PredictionRequest("iris", {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
                                         "petal_width": 0.2}, REPLY, picture=False)
    ids = [queue.enqueue(PREDICT, "workers.predict.run", request.to_dict()).job_id for _ in range(3)]
    HeartbeatWorker([PREDICT], connection=connection, serializer=JSONSerializer, liveness=Liveness()).work(burst=True)
    wait_for(lambda: all(Job.fetch(i, connection=connection, serializer=JSONSerializer).get_status() == "finished"
                         for i in ids))
    runs = connection.lrange(durations.key(PREDICT), 0, -1)
    assert len(runs) == 3
    assert 0 < (durations.typical_run_s(connection, PREDICT) or 0) < 5


@pytest.mark.slow
def test_both_bots_say_about_how_long_a_queued_video_waits(
    telegram_api, start_telegram_bot, discord_api, start_discord_bot, connection
):
    """Through the real bots: voice notes behind each other on one busy worker get 'about N min'."""
    idle_workers(connection, TRANSCRIBE, 1)
    for run_s, audio_s in ((60.0, 120.0), (90.0, 180.0), (30.0, 60.0)):  # 0.5 s a second of audio, 120 s typical
        durations.record(connection, TRANSCRIBE, run_s, audio_s)
    start_telegram_bot()
    start_discord_bot()
    note = b"OggS" + bytes(200)
    telegram_api.user_sends("voice", note, mime_type="audio/ogg", caption="/transcribe")
    telegram_api.user_sends("voice", note, mime_type="audio/ogg", caption="/translate")
    wait_for(lambda: len(telegram_api.chat(111)) == 2)
    discord_api.slash("transcribe", file=Upload("note.ogg", note, "audio/ogg"))
    ack = wait_for(lambda: discord_api.channel())[0].content
    said = [message.text.split(": ", 1)[1] for message in telegram_api.chat(111)] + [ack.split(": ", 1)[1]]
    # One worker, 60 s a job: the running one half done (30 s), a round per job ahead, then its own: 90, 150, 210 s.
    assert said == ["1st in line (about 2 min).", "2nd in line (about 3 min).", "3rd in line (about 4 min)."]
