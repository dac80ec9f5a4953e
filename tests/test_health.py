"""`python -m workers --check` and `python -m bot --check`: one line per dependency, non-zero when one fails."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from common.embedded_redis import EmbeddedRedis, free_port
from common.health import Check, check_redis, report
from common.queues import PREDICT
from common.registry import LocalModelRegistry
from common.settings import SpeechSettings
from tests.conftest import REPO
from workers.health import check_asr, check_model, check_model_dir

TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"  # the shape of a real one; not a real one
DISCORD_TOKEN = "MTA" + "x" * 56 + ".GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"


def check(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args, "--check"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )


def lines(output: str) -> dict[str, str]:
    """{check name: its whole line}"""
    return {line.split(":", 1)[0].split(maxsplit=1)[1]: line for line in output.splitlines() if ":" in line}


@pytest.fixture
def no_redis_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there


def test_workers_check_passes_with_redis_and_loadable_models(process_env, connection):
    connection.rpush("rq:queue:predict", "waiting-job-id")
    done = check("workers", "--queues", PREDICT, env=process_env)
    assert done.returncode == 0, done.stdout + done.stderr
    found = lines(done.stdout)
    assert found["redis"].startswith("ok") and "predict: 1 waiting, 0 running, 0 failed" in found["redis"]
    assert found["MODEL_DIR"].startswith("ok")
    assert found["iris"] == "ok    iris: version 1 loads"
    assert found["titanic"] == "ok    titanic: version 1 loads"
    assert "asr" not in found, "the speech model is checked only for the transcribe queue"


def test_workers_check_fails_naming_a_corrupt_model_and_an_unreachable_redis(process_env, model_dir, tmp_path,
                                                                             no_redis_url):
    registry_copy = tmp_path / "models"
    shutil.copytree(model_dir, registry_copy)
    damaged = registry_copy / "iris" / "1" / "model.joblib"
    damaged.write_bytes(damaged.read_bytes()[:100])
    env = {**process_env, "MODEL_DIR": str(registry_copy), "REDIS_URL": no_redis_url}
    done = check("workers", "--queues", PREDICT, env=env)
    assert done.returncode == 1
    found = lines(done.stdout)
    assert found["redis"].startswith("FAIL") and "cannot reach Redis at" in found["redis"]
    assert found["iris"].startswith("FAIL") and f"model file {damaged} is corrupt" in found["iris"]
    assert found["titanic"].startswith("ok")


def test_workers_check_fails_without_a_model_dir_and_for_a_malformed_setting(process_env, tmp_path):
    done = check("workers", "--queues", PREDICT, env={**process_env, "MODEL_DIR": str(tmp_path / "absent")})
    assert done.returncode == 1
    found = lines(done.stdout)
    assert found["MODEL_DIR"].startswith("FAIL") and str(tmp_path / "absent") in found["MODEL_DIR"]
    assert "no version registered: run `python -m training.iris`" in found["iris"]
    done = check("workers", env={**process_env, "ASR_BACKEND": "onnx"})
    assert done.returncode == 1
    assert done.stdout.startswith("FAIL  settings: ASR_BACKEND")


def test_a_check_starts_no_embedded_redis_but_finds_a_running_one(process_env, tmp_path):
    env = {key: value for key, value in process_env.items() if key != "REDIS_URL"}
    done = check("bot", env=env)
    assert done.returncode == 1
    assert "REDIS_URL is unset and no embedded redis-server runs under" in done.stdout
    assert not (Path(env["DATA_DIR"]) / "redis" / "url").exists()
    embedded = EmbeddedRedis(Path(env["DATA_DIR"]))
    url = embedded.join()
    try:
        done = check("bot", env=env)
        assert done.returncode == 0, done.stdout
        assert f"at {url} answers" in done.stdout
    finally:
        embedded.leave()


def test_bot_check_passes_and_never_prints_the_token(process_env):
    done = check("bot", "telegram", env={**process_env, "TELEGRAM_TOKEN": TELEGRAM_TOKEN})
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines(done.stdout)["TELEGRAM_TOKEN"].startswith("ok    TELEGRAM_TOKEN: is set and well-formed")
    done = check("bot", "discord", env={**process_env, "DISCORD_TOKEN": DISCORD_TOKEN})
    assert done.returncode == 0, done.stdout + done.stderr
    for secret in (TELEGRAM_TOKEN, DISCORD_TOKEN, TELEGRAM_TOKEN.split(":")[1], DISCORD_TOKEN[:20]):
        assert secret not in done.stdout + done.stderr


def test_bot_check_fails_for_a_missing_or_malformed_token_and_an_unreachable_redis(process_env, no_redis_url):
    done = check("bot", "telegram", env=process_env)
    assert done.returncode == 1
    assert "FAIL  TELEGRAM_TOKEN: is not set" in done.stdout
    malformed = "12345:short-" + "s3cr3t"
    done = check("bot", "telegram", env={**process_env, "TELEGRAM_TOKEN": malformed})
    assert done.returncode == 1
    assert done.stdout.startswith("FAIL  settings: TELEGRAM_TOKEN is not a Telegram bot token")
    assert "s3cr3t" not in done.stdout + done.stderr
    done = check("bot", env={**process_env, "REDIS_URL": no_redis_url})
    assert done.returncode == 1
    assert lines(done.stdout)["redis"].startswith("FAIL  redis: cannot reach Redis at")


def test_a_redis_password_is_not_printed(no_redis_url):
    url = no_redis_url.replace("redis://", "redis://:hunter2@")
    result = check_redis(url, Path("unused"))
    assert not result.ok and "hunter2" not in result.detail and "***@127.0.0.1" in result.detail


def test_report_prints_one_line_per_check_and_fails_if_any_failed(capsys):
    assert report([Check("a", True, "fine")]) == 0
    assert report([Check("a", True, "fine"), Check("b", False, "broken")]) == 1
    assert capsys.readouterr().out.splitlines()[-2:] == ["ok    a: fine", "FAIL  b: broken"]


def test_model_checks_name_what_is_missing(model_dir, tmp_path):
    assert check_model_dir(model_dir).ok
    assert not check_model_dir(tmp_path / "nothing").ok
    empty = LocalModelRegistry(tmp_path / "empty")
    assert check_model(empty, "iris") == Check("iris", False, "no version registered: run `python -m training.iris`")
    pointer = tmp_path / "broken" / "titanic" / "current.json"
    pointer.parent.mkdir(parents=True)
    pointer.write_text("{not json")
    result = check_model(LocalModelRegistry(tmp_path / "broken"), "titanic")
    assert not result.ok and str(pointer) in result.detail


def test_asr_check_resolves_the_model_without_loading_it(tmp_path):
    registry = LocalModelRegistry(tmp_path / "models")
    local = tmp_path / "whisper"
    local.mkdir()
    found = check_asr(registry, SpeechSettings(ASR_MODEL=str(local), ASR_BACKEND="transformers", ASR_DEVICE="cpu"))
    assert found.ok and str(local) in found.detail and "transformers backend" in found.detail
    missing = check_asr(registry, SpeechSettings(ASR_MODEL=str(tmp_path / "gone"), ASR_DEVICE="cpu"))
    assert not missing.ok and "is not a directory" in missing.detail
    hub = check_asr(registry, SpeechSettings(ASR_MODEL="KBLab/kb-whisper-small", ASR_DEVICE="cpu"))
    assert hub.ok and "Hub id KBLab/kb-whisper-small" in hub.detail
    registry.register("asr", lambda path: (path / "model.bin").write_bytes(b"x"), metrics={}, feature_schema=[],
                      extra={"backend": "ctranslate2"})
    current = check_asr(registry, SpeechSettings(ASR_MODEL="KBLab/kb-whisper-small", ASR_DEVICE="cpu"))
    assert current.ok and "registry asr v1" in current.detail and str(registry.path("asr", 1)) in current.detail
