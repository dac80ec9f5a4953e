"""Daily monitoring: rounds, exactly-once posts, history, version markers, drift, the picture, /monitor.

In-process tests drive scheduler.rounds.Monitor against the real Redis; the end-to-end tests run
`python -m scheduler` as a subprocess and read the outbox streams the front ends read.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import redis
from PIL import Image

from bot.commands import Commands
from common import artifacts
from common.feature_store import LocalFeatureStore
from common.jobs import OutboxMessage, ReplyTo
from common.outbox import OutboxReader, stream_name
from common.queues import RENDER, JobQueue
from common.registry import LocalModelRegistry
from common.settings import DataSettings
from common.subscriptions import Subscriber, Subscriptions
from models import MODELS, DataSources
from models.cache import ModelCache
from scheduler import captions, dashboard, schedule
from scheduler.metrics import summarise
from scheduler.reference import ReferenceTables
from scheduler.rounds import Monitor, RoundOptions
from tests.conftest import REPO
from training.iris import pipeline as iris_pipeline

PNG = b"\x89PNG\r\n\x1a\n"
DAY1 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
CONSOLE = Subscriber("console-mon", "console")
TELEGRAM = Subscriber("telegram", "-100777")
DISCORD = Subscriber("discord", "123456789012345678")


NAMES = tuple(MODELS)


def sources(data_dir: Path, titanic_csv: Path) -> DataSources:
    return DataSources(data_dir, DataSettings(TITANIC_URL=str(titanic_csv)))


def make_monitor(
    connection: redis.Redis, data_dir: Path, model_dir: Path, titanic_csv: Path,
    fixed: tuple[Subscriber, ...] = (), samples: int = 1,
) -> Monitor:
    store = LocalFeatureStore(data_dir / "features")
    return Monitor(
        connection, store, ModelCache(LocalModelRegistry(model_dir)), Subscriptions(connection, fixed, models=NAMES),
        ReferenceTables(store, sources(data_dir, titanic_csv)), RoundOptions(samples=samples),
    )


def posts(connection: redis.Redis, subscriber: Subscriber) -> list[OutboxMessage]:
    return [
        OutboxMessage.from_dict(json.loads(fields[b"data"]))
        for _, fields in connection.xrange(stream_name(subscriber.outbox))
        if json.loads(fields[b"data"])["reply"]["chat"] == subscriber.chat
    ]


def rounds_in(history: list[dict]) -> list[str]:
    return sorted({record["round"] for record in history})


@pytest.fixture
def monitor(connection, tmp_path, model_dir, titanic_csv) -> Monitor:
    return make_monitor(connection, tmp_path / "data", model_dir, titanic_csv, fixed=(TELEGRAM,), samples=3)


def test_a_round_predicts_records_and_posts_one_picture_per_chat(monitor, connection):
    """Three synthetic flowers are predicted and recorded; each subscribed chat gets one dashboard."""
    monitor.subscriptions.subscribe(CONSOLE, ["iris"])
    outcome = monitor.run_round("iris", DAY1)
    assert (outcome.status, outcome.recorded, outcome.posted) == ("done", 3, 2)
    history = monitor.store.read_history("iris")
    assert len(history) == 3 and rounds_in(history) == ["2026-11-01T08:00+00:00"]
    record = history[0]
    assert record["model_version"] == 1 and record["label"] in {"setosa", "versicolor", "virginica"}
    assert set(record["features"]) == {"sepal_length", "sepal_width", "petal_length", "petal_width"}
    for chat in (CONSOLE, TELEGRAM):
        [message] = posts(connection, chat)
        assert (message.kind, message.filename, message.result) == ("picture", "iris-dashboard.png", None)
        assert message.text.startswith("Iris monitoring, Sun 01 Nov 2026 (model v1).")
        assert "samples right" in message.text and "drift" in message.text.lower()
        assert len(message.text) <= 1024  # a Telegram caption
        assert artifacts.load(connection, message.artifact)[:8] == PNG
    assert posts(connection, DISCORD) == []  # not subscribed to anything
    # The same round again: nothing new anywhere.
    again = monitor.run_round("iris", DAY1)
    assert (again.status, again.posted) == ("already done", 0)
    assert len(monitor.store.read_history("iris")) == 3
    assert connection.xlen(stream_name("telegram")) == 1


def test_a_round_cut_short_after_recording_and_one_post_finishes_without_repeats(monitor, connection):
    """As after a crash mid-round: the recorded samples are kept, and a chat that got its post gets no second."""
    monitor.subscriptions.subscribe(CONSOLE, ["titanic"])
    round_id = "2026-11-01T08:00+00:00"
    new, _ = monitor.record("titanic", round_id, DAY1)
    summary = monitor.summary("titanic", DAY1)
    only_console = make_monitor(connection, Path(monitor.store.root).parent, monitor.models.registry.root, "")
    only_console.subscriptions.subscribe(CONSOLE, ["titanic"])
    assert only_console.post("titanic", round_id, summary, new) == 1
    # The "restarted" scheduler runs the round.
    outcome = monitor.run_round("titanic", DAY1)
    assert (outcome.recorded, outcome.posted) == (0, 1)  # the Telegram chat only
    assert len(posts(connection, CONSOLE)) == 1 and len(posts(connection, TELEGRAM)) == 1
    assert monitor.store.read_history("titanic") == new


def test_two_schedulers_racing_for_one_round_post_once(connection, redis_url, tmp_path, model_dir, titanic_csv):
    """Two processes' worth of Monitors start the same round at once: one round recorded, one post per chat."""
    start = threading.Barrier(2)
    outcomes = []

    def scheduler() -> None:
        client = redis.Redis.from_url(redis_url)
        twin = make_monitor(client, tmp_path / "data", model_dir, titanic_csv, fixed=(TELEGRAM, DISCORD))
        start.wait()
        outcomes.append(twin.run_round("iris", DAY1))
        client.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(o.status for o in outcomes) == ["already done", "done"]
    assert sum(o.posted for o in outcomes) == 2
    assert len(posts(connection, TELEGRAM)) == 1 and len(posts(connection, DISCORD)) == 1
    assert len(LocalFeatureStore(tmp_path / "data" / "features").read_history("iris")) == 1


def test_a_round_locked_by_a_crashed_scheduler_runs_once_its_lock_expires(connection, tmp_path, model_dir, titanic_csv):
    """A holder that died keeps the round's lock only until its time-out; then the round runs, once."""
    store = LocalFeatureStore(tmp_path / "data" / "features")
    monitor = Monitor(
        connection, store, ModelCache(LocalModelRegistry(model_dir)),
        Subscriptions(connection, (TELEGRAM,), models=NAMES),
        ReferenceTables(store, sources(tmp_path / "data", titanic_csv)), RoundOptions(lock_ttl_s=1.0),
    )
    connection.set("monitor:lock:iris:2026-11-01T08:00+00:00", "dead-process", px=800)
    started = time.monotonic()
    outcome = monitor.run_round("iris", DAY1)
    assert time.monotonic() - started > 0.6  # it waited for the dead holder's lock
    assert (outcome.status, outcome.posted) == ("done", 1)
    assert len(posts(connection, TELEGRAM)) == 1


def test_a_new_model_version_is_marked_where_it_took_over(connection, tmp_path, model_dir, titanic_csv):
    """Register v2 with the training pipeline between rounds: the next round uses it, the chart marks it."""
    registry = LocalModelRegistry(tmp_path / "models")
    shutil.copytree(model_dir, registry.root)
    monitor = make_monitor(connection, tmp_path / "data", registry.root, titanic_csv)
    for day in range(2):
        monitor.run_round("iris", DAY1 + timedelta(days=day))
    options = iris_pipeline.IrisOptions(neighbors=1)
    flowers = iris_pipeline.feature_pipeline(LocalFeatureStore(tmp_path / "features"))
    iris_pipeline.register(registry, *iris_pipeline.train(flowers, options), options)
    third = DAY1 + timedelta(days=2)
    monitor.run_round("iris", third)

    summary = monitor.summary("iris", third)
    assert summary.version == 2
    assert [point.version for point in summary.points] == [1, 1, 2]
    assert summary.version_changes == [(third, 2)]
    assert set(summary.cv_by_version) == {1, 2}
    assert summary.cv_accuracy == registry.get("iris", 2).metrics["cv_accuracy"]
    assert "Model v2 took over on 03 Nov 2026." in captions.caption(summary)
    assert Image.open(io.BytesIO(dashboard.render(summary))).size == dashboard.SIZE


def test_a_round_is_named_by_the_latest_scheduled_time_so_every_process_agrees():
    """08:00 Stockholm: at 07:59 the due round is yesterday's, from 08:00 today's; names are in UTC."""
    cron = schedule.trigger("0 8 * * *", "Europe/Stockholm")
    zone = ZoneInfo("Europe/Stockholm")
    before = schedule.latest_fire_time(cron, datetime(2026, 11, 24, 7, 59, tzinfo=zone))
    at = schedule.latest_fire_time(cron, datetime(2026, 11, 24, 8, 0, tzinfo=zone))
    later = schedule.latest_fire_time(cron, datetime(2026, 11, 24, 23, 30, tzinfo=zone))
    assert before == datetime(2026, 11, 23, 8, 0, tzinfo=zone)
    assert at == later == datetime(2026, 11, 24, 8, 0, tzinfo=zone)
    assert schedule.round_id(at) == "2026-11-24T07:00+00:00"
    monthly = schedule.trigger("30 6 1 * *", "UTC")
    first_of_month = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert schedule.latest_fire_time(monthly, datetime(2026, 11, 24, tzinfo=UTC)) == first_of_month


def history_of(days_ago_and_hits: list[tuple[int, bool]], now: datetime) -> list[dict]:
    return [
        {
            "round": (now - timedelta(days=days)).isoformat(), "model_version": 1, "features": {},
            "label": "died", "prediction": "died" if hit else "survived", "probability": 0.8,
        }
        for days, hit in days_ago_and_hits
    ]


def test_drift_is_reported_in_words_when_the_last_week_falls_below_cross_validation():
    """3 of 7 right this week against 84% in CV: more than 10 points short, and the post says so."""
    now = DAY1 + timedelta(days=30)
    week = [(days, days % 2 == 0) for days in range(7)]  # right on days 0, 2, 4, 6
    old = [(days, True) for days in range(10, 30)]  # outside the window: must not count
    records = history_of([(d, not hit) if d == 0 else (d, hit) for d, hit in week] + old, now)
    summary = summarise("titanic", ("died", "survived"), records, now=now, version=1, cv_accuracy=0.84, threshold=0.1)
    assert (summary.window_correct, summary.window_total) == (3, 7)
    assert summary.drifting
    text = captions.caption(summary)
    assert "⚠ Drift: accuracy over the last 7 days (43%) is 41 points below the cross-validation accuracy (84%)" in text
    assert "more than the 10-point threshold" in text

    calm = summarise("titanic", ("died", "survived"), records, now=now, version=1, cv_accuracy=0.84, threshold=0.5)
    assert not calm.drifting
    assert "No drift: the last 7 days are 41 points below" in captions.caption(calm)


def test_the_accuracy_line_counts_one_sample_as_one_and_more_as_many():
    """One recorded prediction reads "the only sample so far", not "all 1 samples"; more are counted."""
    now = DAY1 + timedelta(days=30)
    one = summarise("titanic", ("died", "survived"), history_of([(0, True)], now), now=now, version=1,
                    cv_accuracy=0.84, threshold=0.1)
    assert "Accuracy: 100% over the last 7 days (1 sample), 100% on the only sample so far." in captions.caption(one)
    three = summarise("titanic", ("died", "survived"), history_of([(0, True), (1, False), (20, True)], now),
                      now=now, version=1, cv_accuracy=0.84, threshold=0.1)
    assert "Accuracy: 50% over the last 7 days (2 samples), 67% over all 3 samples." in captions.caption(three)


def test_the_dashboard_is_a_png_of_the_expected_size_with_something_on_it(monitor, connection):
    monitor.subscriptions.subscribe(CONSOLE, ["titanic"])
    for day in range(3):
        monitor.run_round("titanic", DAY1 + timedelta(days=day))
    data = artifacts.load(connection, posts(connection, CONSOLE)[-1].artifact)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == dashboard.SIZE == (1200, 750)
    pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.std() > 20  # not a blank canvas
    assert len(posts(connection, CONSOLE)) == 3  # one per round


def test_monitor_command_sends_the_current_dashboard_to_the_chat_that_asked(
    connection, burst_worker, tmp_path, model_dir, titanic_csv, monkeypatch
):
    """/monitor iris: a render worker draws the history as it is, without adding a round."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODEL_DIR", str(model_dir))
    reply = ReplyTo(outbox="console-ask", chat="console", message="m1")
    commands = Commands(JobQueue(connection))
    reader = OutboxReader(connection, "console-ask", consumer="test")

    first = commands.handle("/monitor iris", reply)
    burst_worker((RENDER,))
    [(_, empty)] = reader.read(block_ms=100)
    assert empty.kind == "text" and empty.job_id == first.job_id
    assert "no iris monitoring history yet" in empty.text and "first round runs" in empty.text

    make_monitor(connection, tmp_path / "data", model_dir, titanic_csv).run_round("iris", DAY1)
    answer = commands.handle("/monitor iris", reply)
    burst_worker((RENDER,))
    [(_, message)] = reader.read(block_ms=100)
    assert (message.kind, message.job_id, message.final) == ("picture", answer.job_id, True)
    assert message.reply == reply  # answers the very message
    assert message.text.startswith("Iris monitoring") and "Today's" not in message.text
    assert Image.open(io.BytesIO(artifacts.load(connection, message.artifact))).size == dashboard.SIZE
    assert len(LocalFeatureStore(tmp_path / "data" / "features").read_history("iris")) == 1


def run_scheduler(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scheduler", *args], env=env, cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def pictures(connection: redis.Redis, outbox: str) -> list[OutboxMessage]:
    reader = OutboxReader(connection, outbox, consumer="test")
    found = []
    while batch := reader.read(block_ms=50):
        for entry_id, message in batch:
            found.append(message)
            reader.ack(entry_id)
    return found


@pytest.mark.slow
def test_run_now_end_to_end_posts_one_picture_per_chat_once_per_round(process_env, connection, tmp_path):
    """Two `--run-now` at once, then a third: one PNG per chat and model, one round of history."""
    env = {**process_env, "TELEGRAM_MONITOR_CHATS": "-100777", "DISCORD_MONITOR_CHANNELS": "123456789012345678"}
    Subscriptions(connection, models=NAMES).subscribe(CONSOLE, ["iris", "titanic"])
    racing = [run_scheduler(env, "--run-now") for _ in range(2)]
    for process in racing:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    for outbox in ("console-mon", "telegram", "discord"):
        received = pictures(connection, outbox)
        assert sorted(m.filename for m in received) == ["iris-dashboard.png", "titanic-dashboard.png"], outbox
        for message in received:
            assert message.kind == "picture" and message.reply.chat in {"console", "-100777", "123456789012345678"}
            image = Image.open(io.BytesIO(artifacts.load(connection, message.artifact)))
            assert image.format == "PNG" and image.size == dashboard.SIZE
    store = LocalFeatureStore(tmp_path / "data" / "features")
    histories = {model: store.read_history(model) for model in ("iris", "titanic")}
    assert all(len(history) == 1 for history in histories.values())  # MONITOR_SAMPLES=1, one round

    again = run_scheduler(env, "--run-now")
    _, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr
    assert "already done" in stderr
    assert all(pictures(connection, outbox) == [] for outbox in ("console-mon", "telegram", "discord"))
    assert {model: store.read_history(model) for model in histories} == histories


@pytest.mark.slow
def test_the_scheduler_catches_up_the_missed_round_once_at_start(process_env, connection, tmp_path):
    """`python -m scheduler` runs the latest due round at start (not one per missed round), then waits."""
    # Hourly, half an hour away from now: 24 rounds were due in the last day, and none falls due during the test.
    minute = (datetime.now(UTC).minute + 30) % 60
    env = {**process_env, "MONITOR_CRON": f"{minute} * * * *", "MONITOR_TZ": "UTC", "TELEGRAM_MONITOR_CHATS": "-100777"}
    daemon = run_scheduler(env)
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while connection.xlen(stream_name("telegram")) < 2 and datetime.now(UTC) < deadline:
            assert daemon.poll() is None, daemon.stderr.read() if daemon.stderr else ""
            time.sleep(0.1)
    finally:
        daemon.terminate()
        _, stderr = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, stderr
    assert "next round" in stderr
    store = LocalFeatureStore(tmp_path / "data" / "features")
    # 24 hourly rounds were "missed" in the last day: one is run.
    assert [len(rounds_in(store.read_history(model))) for model in ("iris", "titanic")] == [1, 1]
    assert connection.xlen(stream_name("telegram")) == 2

    run_now = run_scheduler(env, "--run-now")
    _, stderr = run_now.communicate(timeout=120)
    assert run_now.returncode == 0, stderr
    assert connection.xlen(stream_name("telegram")) == 2


@pytest.mark.slow
def test_run_now_exits_non_zero_when_a_round_fails(process_env, tmp_path):
    """No registered models: the round cannot predict, and --run-now says so with its exit code."""
    env = {**process_env, "MODEL_DIR": str(tmp_path / "empty-models")}
    process = run_scheduler(env, "--run-now")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "no iris model is registered yet" in stderr
