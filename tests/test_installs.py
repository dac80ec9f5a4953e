"""A missing optional part of the install is one line, the same from `--check` as from starting:
the transcribe queue without faster-whisper, ASR_BACKEND=transformers or MT_MODEL without the speech
extra, and `python -m training.whisper` without it. Packages are hidden per subprocess (tests/import_blocker.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.import_blocker import hiding

pytest_plugins = ["tests.speech_fixtures"]  # the tiny models and the media
NO_EXTRA = "needs the speech extra: pip install '.[speech]'"


def run(env: dict[str, str], hidden_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        env={**env, "PYTHONPATH": str(hidden_dir)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def fail_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FAIL")]


EXTRA = ("torch", "transformers")
FASTER_WHISPER = ("faster_whisper", "ctranslate2")


@pytest.mark.parametrize(
    ("hidden", "settings", "said"),
    [
        (EXTRA, {"ASR_BACKEND": "transformers"}, f"ASR_BACKEND=transformers {NO_EXTRA}"),
        (EXTRA, {"MT_MODEL": "Helsinki-NLP/opus-mt-sv-en"}, f"MT_MODEL (Marian translation) {NO_EXTRA}"),
        (FASTER_WHISPER, {}, "the transcribe queue needs faster-whisper and ctranslate2: pip install ."),
    ],
)
def test_the_transcribe_check_fails_where_starting_that_worker_fails(
    process_env, connection, tmp_path, hidden, settings, said
):
    """--check prints a FAIL line and exits non-zero; the worker itself stops at start with the same words."""
    env = {**process_env, **settings}
    blocked = hiding(tmp_path / "blocked", *hidden)
    checked = run(env, blocked, "workers", "--queues", "transcribe", "--check")
    assert checked.returncode != 0, checked.stdout
    assert fail_lines(checked.stdout) == [f"FAIL  asr: {said}"], checked.stdout
    started = run(env, blocked, "workers", "--queues", "transcribe", "--burst")
    assert started.returncode == 2, started.stderr
    assert said in started.stderr


def test_the_default_install_passes_the_transcribe_check_without_torch(process_env, tmp_path):
    """ctranslate2 (the default backend) needs no torch: the asr line is ok with torch and transformers hidden."""
    blocked = hiding(tmp_path / "blocked", *EXTRA)
    checked = run({**process_env, "ASR_MODEL": str(tmp_path)}, blocked, "workers", "--queues", "transcribe", "--check")
    assert not [line for line in fail_lines(checked.stdout) if "asr:" in line], checked.stdout
    assert any(line.startswith("ok    asr: ASR_MODEL (ctranslate2") for line in checked.stdout.splitlines())


@pytest.mark.parametrize("step", ["features", "train", "evaluate", "export"])
def test_whisper_training_without_the_speech_extra_ends_in_one_line(process_env, tmp_path, step):
    blocked = hiding(tmp_path / "blocked", *EXTRA)
    done = run(process_env, blocked, "training.whisper", step)
    assert done.returncode == 2
    assert done.stderr.strip() == f"training.whisper: the {step} step {NO_EXTRA}"
    assert "Traceback" not in done.stderr


def test_a_ctranslate2_transcription_job_loads_neither_torch_nor_transformers(
    redis_url, tiny_models, media_dir, tmp_path
):
    """A whole job on a real SimpleWorker (decode, recognise, files) in a process where both are installed."""
    script = f"""
import sys
from pathlib import Path

import redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from common import artifacts
from common.jobs import ReplyTo, TranscriptionRequest
from common.outbox import OutboxReader
from common.queues import TRANSCRIBE, JobQueue
from common.registry import LocalModelRegistry
from common.video_links import LinkPolicy
from workers.speech import runtime
from workers.speech.models import AsrModels

connection = redis.Redis.from_url({redis_url!r})
registry = LocalModelRegistry(Path({str(tmp_path)!r}))
models = AsrModels(registry, {str(tiny_models["ctranslate2"])!r}, "ctranslate2", "cpu", 1)
runtime.install(runtime.SpeechRuntime(models=models, links=LinkPolicy(frozenset(), frozenset(), 120)))
key = artifacts.store(connection, Path({str(media_dir / "swedish.wav")!r}).read_bytes(), ttl_s=600)
request = TranscriptionRequest("transcribe", ReplyTo("console-ct2-path", "me"), "upload:ct2-path", artifact=key)
JobQueue(connection).enqueue(TRANSCRIBE, "workers.speech.job.run", request.to_dict(), retries=0)
SimpleWorker([TRANSCRIBE], connection=connection, serializer=JSONSerializer).work(burst=True)
sent = [m for _, m in OutboxReader(connection, "console-ct2-path").read(block_ms=10, count=100)]
print(sent[-1].kind, sent[-1].final)
print(sorted(name for name in ("torch", "transformers") if name in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-2:] == ["document True", "[]"], done.stdout
