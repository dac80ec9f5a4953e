"""How a job's pieces are shared out to CPU workers: balanced, with no wait between batches, stoppable."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from workers.speech.backends.parts import WINDOW_SAMPLES, in_order, plan, side_by_side


def test_in_order_gives_consecutive_parts_of_at_most_the_batch():
    assert in_order(7, 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert in_order(0, 3) == []


def test_each_worker_gets_an_even_share_of_the_whole_job_in_order_and_in_parts():
    full, short = WINDOW_SAMPLES, WINDOW_SAMPLES // 4
    parts = plan([full] * 6 + [short, short], workers=2, part_size=2)
    assert sorted(i for worker in parts for part in worker for i in part) == list(range(8))
    assert all(len(part) <= 2 for worker in parts for part in worker)
    for worker in parts:
        indices = [i for part in worker for i in part]
        assert indices == sorted(indices)  # a worker goes through the audio front to back
    assert [sum(1 for part in worker for i in part if i < 6) for worker in parts] == [3, 3]
    assert [sum(1 for part in worker for i in part if i >= 6) for worker in parts] == [1, 1]


def test_a_short_piece_costs_an_encoder_pass_so_two_short_ones_balance_one_long():
    """Three pieces, one full and two of a quarter window: not 2 vs 1 by count, but the full one alone."""
    parts = plan([WINDOW_SAMPLES, WINDOW_SAMPLES // 4, WINDOW_SAMPLES // 4], workers=2, part_size=4)
    assert sorted(parts) == [[[0]], [[1, 2]]]


def test_a_worker_does_not_wait_for_the_other_at_a_batch_end():
    """Worker 0's pieces are slow: worker 1 does its own parts and then takes worker 0's last one."""
    started: dict[int, str] = {}

    def recognise(part: list[int]) -> list[int]:
        started[part[0]] = threading.current_thread().name
        time.sleep(0.3 if part[0] in (0, 2) else 0.01)
        return part

    with ThreadPoolExecutor(2) as pool:
        order = [part for part, _ in side_by_side([[[0], [2], [4]], [[1], [3]]], recognise, pool)]
    assert sorted(order) == [[0], [1], [2], [3], [4]]
    assert order.index([3]) < order.index([0]), "no barrier: worker 1 went on while worker 0 was busy"
    assert started[4] == started[1] != started[0], "worker 1 took the part worker 0 had not started"


def test_closing_stops_the_workers_and_waits_for_the_parts_running():
    """Parts 1 and 2 are running when the job is cancelled: they finish, and 3, 4 and 5 never start."""
    running = threading.Barrier(3)
    release = threading.Event()
    done: list[int] = []

    def recognise(part: list[int]) -> list[int]:
        if part[0] in (1, 2):
            running.wait(5)
            release.wait(5)
        done.append(part[0])
        return part

    with ThreadPoolExecutor(2) as pool:
        parts = side_by_side([[[0], [2], [4]], [[1], [3], [5]]], recognise, pool)
        assert next(parts) == ([0], [0])
        running.wait(5)  # both workers are inside a part
        threading.Timer(0.2, release.set).start()
        parts.close()  # as a cancelled job does
        assert sorted(done) == [0, 1, 2], "close() returned after the running parts, before any other"
        time.sleep(0.2)
        assert sorted(done) == [0, 1, 2]


def test_an_error_in_one_part_reaches_the_caller_and_stops_the_rest():
    def recognise(part: list[int]) -> list[int]:
        if part[0] == 3:
            raise RuntimeError("the model failed")
        time.sleep(0.05)
        return part

    with ThreadPoolExecutor(2) as pool, pytest.raises(RuntimeError, match="the model failed"):
        list(side_by_side([[[0], [2], [4], [6]], [[1], [3], [5], [7]]], recognise, pool))
