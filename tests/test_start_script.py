"""scripts/start.sh as a newcomer runs it, in a copy of the project whose .venv is already installed."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.helpers import wait_for


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project with a .venv that sees this environment's packages and is stamped as installed."""
    copy = tmp_path / "project"
    shutil.copytree(
        REPO,
        copy,
        ignore=shutil.ignore_patterns(".venv", "data", ".git", "__pycache__", "*.egg-info", ".*_cache"),
    )
    subprocess.run([sys._base_executable, "-m", "venv", str(copy / ".venv")], check=True, timeout=120)  # type: ignore[attr-defined]
    site = next((copy / ".venv" / "lib").glob("python3*/site-packages"))
    (site / "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    digest = hashlib.sha256((copy / "pyproject.toml").read_bytes()).hexdigest()
    (copy / ".venv" / "mlchat-installed.sha256").write_text(digest + "\n")
    return copy


@pytest.mark.slow
def test_start_serves_what_is_ready_quietly_without_reinstalling(project: Path, tmp_path: Path):
    """No pip run, Iris answered although the Titanic CSV is out of reach (with the setting to use
    named), the workers and the scheduler logging to DATA_DIR/logs instead of the console."""
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "DATA_DIR", "MODEL_DIR"}}
    env["TITANIC_URL"] = str(tmp_path / "nowhere" / "titanic.csv")
    try:
        done = subprocess.run(
            ["bash", "scripts/start.sh"],
            cwd=project,
            env=env,
            input="/iris 5.1 3.5 1.4 0.2\n",
            capture_output=True,
            text=True,
            timeout=280,
        )
    except subprocess.TimeoutExpired as expired:  # what each process said, for a failure seen only in CI
        logs = "".join(f"\n--- {log.name}\n{log.read_text()[-3000:]}" for log in (project / "data" / "logs").glob("*"))
        raise AssertionError(f"stdout: {expired.stdout!r}\nstderr: {expired.stderr!r}{logs}") from None
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installing" not in done.stdout, "pyproject.toml is unchanged: no reinstall"
    assert "Iris: setosa" in done.stdout
    assert "set TITANIC_URL to a copy of the CSV (a path or a file:// URL)" in done.stderr
    assert "start.sh: serving what is ready; /titanic answers once its model is trained" in done.stderr
    logs = project / "data" / "logs"
    assert "worker process(es) on queues predict,render" in (logs / "workers.log").read_text()
    assert (logs / "speech-worker.log").exists() and (logs / "scheduler.log").exists()
    assert "start.sh: the web front end is at http://127.0.0.1:7860/" in done.stdout
    assert (logs / "web.log").exists()
    for output in (done.stdout, done.stderr):
        assert " INFO " not in output, "log lines go to the files"
        assert "fold/s" not in output, "no progress bars off a terminal"
    # Every process left: the last one stopped the embedded server.
    wait_for(lambda: not (project / "data" / "redis" / "url").exists(), timeout=30)
