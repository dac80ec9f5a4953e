"""workers/installed.py: the per-process values jobs read (worker context, speech runtime)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.errors import StartupError
from workers.installed import Installed


def test_a_value_is_read_once_installed_and_missing_one_names_what_and_how_to_start():
    slot: Installed[list[int]] = Installed("test cache")
    with pytest.raises(StartupError, match=r"the test cache was not installed: start workers with `python -m workers`"):
        slot.current()
    value = [1]
    slot.install(value)
    assert slot.current() is value


def test_both_process_values_fail_the_same_way_outside_the_worker_entry_point():
    """A fresh process that never ran `python -m workers` gets the same clear error from either."""
    code = (
        "from workers import context\nfrom workers.speech import runtime\n"
        "for module in (context, runtime):\n"
        "    try:\n        module.current()\n    except Exception as exc:\n        print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.splitlines() == [
        "StartupError the worker context was not installed: start workers with `python -m workers`",
        "StartupError the speech runtime was not installed: start workers with `python -m workers`",
    ]
