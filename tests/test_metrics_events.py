"""The metric hooks in this process against the real thing: label values that stay few, settings and a
taken port refused at start, refusal reasons through the bot's commands, speech and cancel outcomes
through the project's RQ worker, YouTube slot waits, and the scrape-time queue gauges."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import redis
from prometheus_client import REGISTRY
from rq import Queue
from rq.serializers import JSONSerializer

from bot.access import Access, AccessRules
from bot.commands import Commands
from bot.limits import LimitOptions, Limits
from bot.metrics_discord import route_of
from bot.metrics_telegram import method_of, retry_after
from common.embedded_redis import free_port
from common.errors import SettingsError
from common.jobs import ReplyTo
from common.metrics.events import kind_of, platform_of
from common.metrics.queues import QueueCollector
from common.queues import ON_FAILURE, TRANSCRIBE, JobQueue
from common.settings import Settings
from common.starting_workers import StartingWorker
from tests.helpers import refused_at_start
from workers.speech.download_slots import DownloadSlots


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("function", "payload", "kind"),
    [
        ("workers.predict.run", {"model": "iris"}, "iris"),
        ("workers.speech.job.run", {"task": "translate", "url": "https://youtu.be/x"}, "translate"),
        ("workers.render.run", {"model": "titanic"}, "picture"),
        ("scheduler.jobs.dashboard", {"model": "iris"}, "dashboard"),
        ("workers.predict.run", {"model": "https://evil.example/x"}, "other"),
        ("workers.predict.run", {"model": "A" * 100}, "other"),
        ("workers.predict.run", None, "other"),
    ],
)
def test_a_jobs_kind_is_a_model_a_task_or_a_fixed_word(function, payload, kind):
    assert kind_of(function, payload) == kind


def test_platform_labels_carry_no_ids_tokens_or_sessions():
    """Discord routes lose ids and tokens, a Telegram URL only gives its method, console sessions merge."""
    token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OkFCQ0RFRg"
    assert route_of("post", f"/api/v10/interactions/1234567890/{token}/callback") == \
        "POST /interactions/{id}/{token}/callback"
    assert route_of("PATCH", f"/api/v10/webhooks/42/{token}/messages/@original") == \
        "PATCH /webhooks/{id}/{token}/messages/{token}"
    assert route_of("GET", "/api/v10/gateway/bot") == "GET /gateway/bot"
    assert method_of("https://api.telegram.org/bot123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ao/sendMessage") == \
        "sendMessage"
    assert method_of("https://api.telegram.org/file/bot123456789:AAEhBOweik/voice/file_0.oga") == "file"
    assert retry_after(b'{"ok":false,"error_code":429,"parameters":{"retry_after":7}}') == 7
    assert retry_after(b"<html>Too Many Requests</html>") is None
    assert platform_of("console-4f2a") == "console" and platform_of("telegram") == "telegram"


def test_metrics_listen_must_be_host_and_port(monkeypatch):
    monkeypatch.setenv("METRICS_LISTEN", "9101")
    with pytest.raises(SettingsError, match="METRICS_LISTEN must be host:port"):
        Settings()
    monkeypatch.setenv("METRICS_LISTEN", "0.0.0.0:9101")
    assert Settings().metrics.listen == ("0.0.0.0", 9101)
    monkeypatch.delenv("METRICS_LISTEN")
    assert Settings().metrics.listen is None


def test_a_taken_metrics_port_stops_the_bot_with_one_line(process_env):
    """The port is in use: exit code 2 and a line naming METRICS_LISTEN, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stderr = refused_at_start("console", {**process_env, "METRICS_LISTEN": f"127.0.0.1:{port}"})
    assert f"METRICS_LISTEN 127.0.0.1:{port} cannot be served" in stderr


def test_refusals_are_counted_by_reason(connection):
    """A stranger (access), a user over the limit (limit) and wrong input (bad_input), each once."""
    queue = JobQueue(connection)
    commands = Commands(
        queue, limits=Limits(connection, queue, LimitOptions(jobs_per_window=1)),
        access=Access(connection, AccessRules(users=frozenset({"tg:2"}))),
    )
    friend, stranger = ReplyTo("telegram", "2", user="2"), ReplyTo("telegram", "3", user="3")
    before = {reason: sample("mlchat_refusals_total", platform="telegram", reason=reason)
              for reason in ("access", "limit", "bad_input")}
    updates = {result: sample("mlchat_updates_total", platform="telegram", result=result)
               for result in ("queued", "refused", "answered")}
    assert commands.handle("/iris 5.1 3.5 1.4 0.2", stranger).refusal == "access"
    assert commands.handle("/iris 5.1 3.5 1.4 0.2", friend).job_id
    assert commands.handle("/iris 5.1 3.5 1.4 0.2", friend).refusal == "limit"
    assert commands.handle("/iris 1 2", friend).refusal == "bad_input"
    assert commands.handle("/help", friend).refusal is None
    for reason in before:
        assert sample("mlchat_refusals_total", platform="telegram", reason=reason) - before[reason] == 1
    assert sample("mlchat_updates_total", platform="telegram", result="queued") - updates["queued"] == 1
    assert sample("mlchat_updates_total", platform="telegram", result="refused") - updates["refused"] == 3
    assert sample("mlchat_updates_total", platform="telegram", result="answered") - updates["answered"] == 1


def test_speech_results_give_audio_seconds_rtf_cancels_and_refusals(connection, burst_worker):
    """Through the project's worker: audio counted unless cached, one RTF per recognition, cancelled and
    refused outcomes from what the job returned or raised."""
    queue = Queue(TRANSCRIBE, connection=connection, serializer=JSONSerializer)
    finished = "mlchat_jobs_finished_total"
    before = {
        "audio": sample("mlchat_speech_audio_seconds_total", task="transcribe"),
        "rtf": sample("mlchat_speech_realtime_factor_count"),
        "done": sample(finished, queue=TRANSCRIBE, kind="transcribe", outcome="done"),
        "cancelled": sample(finished, queue=TRANSCRIBE, kind="transcribe", outcome="cancelled"),
        "refused": sample(finished, queue=TRANSCRIBE, kind="transcribe", outcome="refused"),
    }
    reply = ReplyTo("console-t", "console").to_dict()
    for function, audio_s, cached in (("recognised", 90.0, False), ("recognised", 30.0, True),
                                      ("cancelled", 0, False), ("refused", 0, False)):
        queue.enqueue(f"tests.metrics_jobs.{function}", {"task": "transcribe", "audio_s": audio_s, "cached": cached,
                                                        "reply": reply}, on_failure=ON_FAILURE)
    burst_worker((TRANSCRIBE,))
    assert sample("mlchat_speech_audio_seconds_total", task="transcribe") - before["audio"] == 90.0
    assert sample("mlchat_speech_realtime_factor_count") - before["rtf"] == 1
    assert sample(finished, queue=TRANSCRIBE, kind="transcribe", outcome="done") - before["done"] == 2
    assert sample(finished, queue=TRANSCRIBE, kind="transcribe", outcome="cancelled") - before["cancelled"] == 1
    assert sample(finished, queue=TRANSCRIBE, kind="transcribe", outcome="refused") - before["refused"] == 1


def test_a_wait_for_a_youtube_slot_is_observed(connection):
    slots = DownloadSlots(connection, limit=1, lease_s=30)
    other = slots.new_holder()
    assert slots.try_acquire(other)
    before_count, before_sum = sample("mlchat_youtube_slot_wait_seconds_count"), sample(
        "mlchat_youtube_slot_wait_seconds_sum")
    threading.Timer(0.4, slots.release, args=(other,)).start()
    with slots.hold(max_wait_s=10, poll_s=0.05):
        pass
    assert sample("mlchat_youtube_slot_wait_seconds_count") - before_count == 1
    assert 0.35 <= sample("mlchat_youtube_slot_wait_seconds_sum") - before_sum < 5


def test_queue_gauges_come_from_redis_at_scrape_time(connection):
    """Jobs waiting and a worker loading its models show; with Redis gone only mlchat_redis_up 0 does."""
    JobQueue(connection).enqueue("predict", "workers.predict.run", {"model": "iris"})
    StartingWorker(connection, ["predict"]).announce_once()
    families = {family.name: family for family in QueueCollector(connection).collect()}
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert values[("mlchat_queue_length", (("queue", "predict"),))] == 1
    assert values[("mlchat_workers", (("queue", "predict"), ("state", "starting")))] == 1
    assert values[("mlchat_workers", (("queue", "predict"), ("state", "idle")))] == 0
    assert values[("mlchat_redis_up", ())] == 1
    gone = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    started = time.monotonic()
    [down] = QueueCollector(gone).collect()
    assert (down.name, down.samples[0].value) == ("mlchat_redis_up", 0)
    assert time.monotonic() - started < 5
