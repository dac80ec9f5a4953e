"""Small helpers shared by the tests."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PIL import Image

T = TypeVar("T")

# An Iris answer as workers.predict posts it (the verdict of the quick-answer and delivery tests).
IRIS_SETOSA = {
    "model": "iris",
    "version": 1,
    "label": "setosa",
    "probability": 0.97,
    "probabilities": {"setosa": 0.97, "versicolor": 0.02, "virginica": 0.01},
    "features": {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
}


def wait_for(condition: Callable[[], T], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Ask a process to stop (SIGTERM); kill it if it has not within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def refused_at_start(platform: str, env: dict[str, str]) -> str:
    """``python -m bot <platform>`` that must stop at start: exit code 2, no traceback; its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", platform],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def png(width: int = 4, height: int = 3) -> bytes:
    """A real, tiny PNG: the emulators refuse a photo they cannot decode, as the platforms do."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def live_group_members(pgid: int) -> list[int]:
    """The processes of process group ``pgid`` that still run (zombies left to init do not count).

    A process whose parent has exited belongs to init, so asking for children after a supervisor
    exits finds nothing; the group its children started in still names them.
    """
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state not in {"Z", "X"}:
            members.append(int(stat.parent.name))
    return members
