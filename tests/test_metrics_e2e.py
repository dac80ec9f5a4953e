"""A real Prometheus scrapes a Telegram bot, the worker supervisor with two children and the scheduler,
while a prediction, a refusal, a failed job and a 429 go through; its HTTP API must show each of them."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from common.embedded_redis import free_port
from common.jobs import ReplyTo
from common.queues import PREDICT, JobQueue
from tests.conftest import REPO
from tests.helpers import stop_process, wait_for
from tests.prometheus_server import Prometheus, have_prometheus

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not have_prometheus(), reason="Debian's prometheus package")]

CHAT = 111


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        stop_process(process)


def start(processes: list[subprocess.Popen[bytes]], log: Path, args: list[str], env: dict[str, str]) -> None:
    with log.open("wb") as out:
        processes.append(subprocess.Popen([sys.executable, "-m", *args], env=env, cwd=REPO, stdout=out,
                                          stderr=subprocess.STDOUT))


def test_prometheus_sees_jobs_refusals_failures_429s_workers_and_monitoring(
    telegram_api, start_telegram_bot, process_env, connection, processes, tmp_path
):
    """Counters, a histogram quantile and the scrape-time gauges match what the test made happen."""
    ports = {name: free_port() for name in ("bot", "workers", "scheduler")}
    minute = (datetime.now(UTC).minute + 30) % 60  # no round falls due during the test, one is caught up
    start(processes, tmp_path / "workers.log", ["workers", "--queues", "predict,render", "--processes", "2"],
          {**process_env, "METRICS_LISTEN": f"127.0.0.1:{ports['workers']}"})
    start(processes, tmp_path / "scheduler.log", ["scheduler"],
          {**process_env, "METRICS_LISTEN": f"127.0.0.1:{ports['scheduler']}", "MONITOR_CRON": f"{minute} * * * *",
           "MONITOR_TZ": "UTC"})
    start_telegram_bot(QUICK_ANSWER_S="0", METRICS_LISTEN=f"127.0.0.1:{ports['bot']}")
    prometheus = Prometheus(tmp_path / "prometheus", {name: f"127.0.0.1:{port}" for name, port in ports.items()},
                            rule_files=(REPO / "docs" / "prometheus" / "alerts.yml",))
    prometheus.start()
    try:
        wait_for(lambda: prometheus.targets_up() == {"bot": 1, "workers": 1, "scheduler": 1}, timeout=40)
        # Both worker children registered (read from Redis by the scheduler at scrape time).
        wait_for(lambda: prometheus.value('sum(mlchat_workers{queue="predict",state=~"idle|busy"})') == 2,
                 timeout=60)

        telegram_api.user_says("/iris 5.1 3.5 1.4 0.2", chat_id=CHAT)
        wait_for(lambda: [m for m in telegram_api.chat(CHAT) if m.photo is not None], timeout=40)
        telegram_api.fail("sendMessage", 429, retry_after=1)  # the refusal's answer is sent twice
        telegram_api.user_says("/iris 1 2 3", chat_id=CHAT)
        # Features missing: the job fails on both of its tries, and counts once.
        reply = ReplyTo(outbox="telegram", chat=str(CHAT)).to_dict()
        JobQueue(connection).enqueue(PREDICT, "workers.predict.run", {"model": "iris", "features": {}, "reply": reply})

        def total(expression: str) -> float | None:
            return prometheus.value(f"sum({expression})")

        expected = {
            'mlchat_jobs_enqueued_total{queue="predict",kind="iris"}': 1,  # the bot's (the test's is not scraped)
            'mlchat_jobs_enqueued_total{queue="render",kind="picture"}': 1,  # by the worker, for the answer
            'mlchat_jobs_finished_total{queue="predict",kind="iris",outcome="done"}': 1,
            'mlchat_jobs_finished_total{queue="predict",kind="iris",outcome="failed"}': 1,
            'mlchat_jobs_finished_total{queue="render",kind="picture",outcome="done"}': 1,
            'mlchat_job_wait_seconds_count{queue="predict",kind="iris"}': 2,
            'mlchat_job_run_seconds_count{queue="predict",kind="iris"}': 2,
            'mlchat_refusals_total{platform="telegram",reason="bad_input"}': 1,
            'mlchat_updates_total{platform="telegram",result="queued"}': 1,
            'mlchat_updates_total{platform="telegram",result="refused"}': 1,
            'mlchat_platform_requests_total{platform="telegram",method="sendMessage",status="429"}': 1,
            'mlchat_platform_retry_after_seconds_total{platform="telegram"}': 1,
            'mlchat_queue_length{queue="predict"}': 0,
        }
        try:
            wait_for(lambda: all(total(name) == value for name, value in expected.items()), timeout=60, interval=0.5)
        except AssertionError:
            raise AssertionError({name: total(name) for name in expected}) from None
        assert total('mlchat_platform_requests_total{platform="telegram",method="sendMessage",status="200"}') >= 2
        assert total('mlchat_platform_requests_total{platform="telegram",method="sendPhoto",status="200"}') == 1
        # A prediction runs in milliseconds: the median of the two runs lies in a bucket well under a second.
        median = prometheus.value(
            'histogram_quantile(0.5, sum by (le) (mlchat_job_run_seconds_bucket{queue="predict",kind="iris"}))'
        )
        assert median is not None and 0 < median <= 0.25
        # Each child loaded version 1 (the scheduler too); the catch-up round set accuracy and drift.
        wait_for(lambda: prometheus.value('max(mlchat_model_version{model="iris"})') == 1, timeout=30)
        assert prometheus.value('count(mlchat_model_version{model="titanic", job="workers"})') == 1
        wait_for(lambda: prometheus.value('mlchat_monitor_drift{model="iris"}') is not None, timeout=60)
        accuracy = prometheus.value('mlchat_monitor_accuracy{model="iris",window="all"}')
        assert accuracy is not None and 0 <= accuracy <= 1
        assert prometheus.value('mlchat_monitor_drift{model="iris"}') in {0, 1}
        # The project's alert rules evaluate cleanly, and no worker serves transcribe here: its alert is on its way.
        wait_for(lambda: set(prometheus.rule_health().values()) == {"ok"}, timeout=20)
        pending = wait_for(lambda: [a for a in prometheus.alerts() if a["labels"]["alertname"] ==
                                    "MlchatQueueWithoutWorker"], timeout=20)
        assert [(a["labels"]["queue"], a["state"]) for a in pending] == [("transcribe", "pending")]
        # No label anywhere carries a chat id, a job id or the token.
        series = prometheus.query('{__name__=~"mlchat_.+"}')
        values = {value for item in series for value in item["metric"].values()}
        assert not {str(CHAT), "7"} & values
        assert not any("AAEhBOweik" in value or re.fullmatch("[0-9a-f]{12}", value) for value in values)
    finally:
        prometheus.stop()
