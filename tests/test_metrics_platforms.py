"""The Discord bot's /metrics through discord.py and the emulator: routes with ids and tokens taken out,
a 429 and its wait, refusals and updates, and a repeated answer part that is dropped."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from common import outbox
from common.embedded_redis import free_port
from common.jobs import OutboxMessage, ReplyTo
from tests.chat_fixtures import DISCORD_TOKEN
from tests.helpers import wait_for

CHANNEL = 500


def scrape(port: int) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def total(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(value for n, ls, value in samples if n == name and labels.items() <= ls.items())


def test_discord_requests_429s_refusals_and_dropped_repeats_are_counted(discord_api, start_discord_bot, connection):
    """Each figure matches what the emulator saw; no label holds an id or the token."""
    port = free_port()
    start_discord_bot(METRICS_LISTEN=f"127.0.0.1:{port}")
    discord_api.slash("titanic", pclass=1, sex="female", age=290.0)  # out of range: refused
    discord_api.slash("status", job="nosuchjob")  # answered
    wait_for(lambda: len(discord_api.channel()) == 2)
    discord_api.fail(f"POST /channels/{CHANNEL}/messages", status=429, retry_after=1.5)
    message = OutboxMessage(kind="text", reply=ReplyTo(outbox="discord", chat=str(CHANNEL)), job_id="r1",
                            text="patience")
    outbox.post(connection, message)
    wait_for(lambda: discord_api.channel()[2:], timeout=15)
    outbox.post(connection, message)  # the job ran twice: its answer is sent once
    route = "POST /channels/{id}/messages"
    wait_for(lambda: total(scrape(port), "mlchat_delivery_repeats_dropped_total", platform="discord") == 1)
    samples = scrape(port)
    assert total(samples, "mlchat_platform_requests_total", platform="discord", method=route, status="429") == 1
    assert total(samples, "mlchat_platform_requests_total", platform="discord", method=route, status="200") == 1
    assert total(samples, "mlchat_platform_retry_after_seconds_total", platform="discord") == 1.5
    callbacks = total(samples, "mlchat_platform_requests_total", method="POST /interactions/{id}/{token}/callback")
    assert callbacks == 2
    assert total(samples, "mlchat_refusals_total", platform="discord", reason="bad_input") == 1
    assert total(samples, "mlchat_updates_total", platform="discord", result="refused") == 1
    assert total(samples, "mlchat_updates_total", platform="discord", result="answered") == 1
    assert [m.content for m in discord_api.channel()][2:] == ["patience"]
    labels = {value for _, ls, _ in samples for value in ls.values()}
    assert not any(str(CHANNEL) in value or DISCORD_TOKEN[:10] in value for value in labels)
