"""Settings: defaults, and a wrong value stops the process at start naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.errors import SettingsError
from common.settings import Settings
from tests.conftest import REPO

GOOD_TELEGRAM = "123456789:AAHk3x9v0Qm4qzYk8n2T5u7w1ZyXcVbNmLp"


def settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_defaults_are_documented_values(monkeypatch):
    for name in ("REDIS_URL", "DATA_DIR", "ASR_BACKEND", "MAX_VIDEO_SECONDS", "TELEGRAM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.redis.REDIS_URL is None
    assert str(settings.storage.DATA_DIR) == "data"
    assert settings.telegram.TELEGRAM_API_URL == "https://api.telegram.org/bot"
    assert "youtu.be" in settings.video.allowed_hosts
    assert settings.speech.ASR_BACKEND == "ctranslate2"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REDIS_URL", "http://localhost:6379", "REDIS_URL must start with redis://"),
        ("MAX_VIDEO_SECONDS", "-5", "MAX_VIDEO_SECONDS"),
        ("MAX_VIDEO_SECONDS", "ten", "MAX_VIDEO_SECONDS"),
        ("ASR_BACKEND", "onnx", "ASR_BACKEND"),
        ("ASR_DEVICE", "tpu", "ASR_DEVICE"),
        ("ASR_REPETITION_PENALTY", "0.5", "ASR_REPETITION_PENALTY"),
        ("QUICK_ANSWER_S", "10", "QUICK_ANSWER_S"),
        ("QUICK_ANSWER_S", "soon", "QUICK_ANSWER_S"),
        ("MONITOR_CRON", "daily", "MONITOR_CRON must be a cron expression"),
        ("MONITOR_TZ", "Mars/Olympus", "MONITOR_TZ is not a known time zone"),
        ("TELEGRAM_API_URL", "api.telegram.org", "TELEGRAM_API_URL must be an http"),
        ("DISCORD_GATEWAY_URL", "http://gateway", "DISCORD_GATEWAY_URL must be a ws://"),
        ("TELEGRAM_TOKEN", "changeme", "TELEGRAM_TOKEN is not a Telegram bot token"),
        ("DISCORD_TOKEN", "short-and-wrong", "DISCORD_TOKEN is not a Discord bot token"),
    ],
)
def test_a_wrong_value_names_the_variable(monkeypatch, name, value, message):
    with pytest.raises(SettingsError) as raised:
        settings_with(monkeypatch, **{name: value})
    assert message in str(raised.value)


def test_a_token_is_never_echoed(monkeypatch):
    secret = "987654321:short"
    with pytest.raises(SettingsError) as raised:
        settings_with(monkeypatch, TELEGRAM_TOKEN=secret)
    assert "short" not in str(raised.value)


def test_a_valid_token_is_kept_secret(monkeypatch):
    settings = settings_with(monkeypatch, TELEGRAM_TOKEN=GOOD_TELEGRAM)
    assert GOOD_TELEGRAM not in repr(settings.telegram)
    assert settings.telegram.TELEGRAM_TOKEN.get_secret_value() == GOOD_TELEGRAM


@pytest.mark.parametrize("module", ["workers", "bot"])
def test_processes_stop_at_start_with_one_line(module, tmp_path):
    args = [sys.executable, "-m", module] + (["console"] if module == "bot" else [])
    done = subprocess.run(
        args,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "REDIS_URL": "redis://nowhere:1",
            "PATH": "/usr/bin:/bin",
            "DATA_DIR": str(tmp_path),
            "MAX_VIDEO_SECONDS": "0",
        },
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"{module}: MAX_VIDEO_SECONDS Input should be greater than 0"]


def test_unreachable_redis_is_one_readable_line(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "from common.connection import connect\nfrom common.entrypoint import run\nfrom pathlib import Path\n"
                "run(lambda: connect('redis://127.0.0.1:1/0', Path('.'), wait_s=0.5), 'bot')"
            ),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "cannot reach Redis at redis://127.0.0.1:1/0: is it running?" in done.stderr
    assert "Traceback" not in done.stderr


def test_hopsworks_key_without_the_extra_is_a_clear_start_up_error(tmp_path):
    """The optional backend is chosen by HOPSWORKS_API_KEY; without the package, the message says what to install."""
    done = subprocess.run(
        [sys.executable, "-m", "training.iris"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={
            "HOPSWORKS_API_KEY": "not-a-real-key-123",
            "DATA_DIR": str(tmp_path),
            "MODEL_DIR": str(tmp_path / "m"),
            "PATH": "/usr/bin:/bin",
        },
        timeout=60,
    )
    assert done.returncode == 2
    assert "pip install '.[hopsworks]'" in done.stderr
    assert "not-a-real-key-123" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDIS_SENTINELS": "10.0.0.5"}, "REDIS_SENTINELS has '10.0.0.5', which is not host:port"),
        ({"REDIS_SENTINELS": "10.0.0.5:26379,10.0.0.6:99999"}, "REDIS_SENTINELS has '10.0.0.6:99999'"),
        ({"REDIS_SENTINELS": "h:1", "REDIS_SENTINEL_MASTER": "my master"}, "REDIS_SENTINEL_MASTER must be"),
        ({"REDIS_SENTINELS": "h:1", "REDIS_URL": "redis://other:6379"}, "REDIS_URL and REDIS_SENTINELS are both set"),
        ({"REDIS_URL": "redis+sentinel://h:1/mymaster"}, "REDIS_URL must start with redis://"),
    ],
)
def test_a_wrong_sentinel_setting_names_the_variable(monkeypatch, env, message):
    with pytest.raises(SettingsError, match=message.replace("+", r"\+")):
        settings_with(monkeypatch, **env)


def test_sentinels_become_one_url_that_child_processes_take_back(monkeypatch):
    """The worker supervisor hands REDIS_URL to its children, who also see REDIS_SENTINELS."""
    from common.connection import redact
    from common.sentinel import parse_sentinel_url

    monkeypatch.delenv("REDIS_URL", raising=False)
    env = {"REDIS_SENTINELS": "10.0.0.5:26379, 10.0.0.6:26380,[fd00::7]:26379", "REDIS_SENTINEL_PASSWORD": "p@ss/w"}
    url = settings_with(monkeypatch, **env).redis.REDIS_URL
    assert url == "redis+sentinel://:p%40ss%2Fw@10.0.0.5:26379,10.0.0.6:26380,[fd00::7]:26379/mymaster"
    assert parse_sentinel_url(url) == (
        [("10.0.0.5", 26379), ("10.0.0.6", 26380), ("fd00::7", 26379)],
        "mymaster",
        "p@ss/w",
    )
    assert "p%40ss" not in redact(url)
    child = settings_with(monkeypatch, REDIS_URL=url)
    assert url == child.redis.REDIS_URL
