"""A job's pieces in parts: one after another, or shared out to CPU workers that run side by side.

Side by side, each worker gets its share of the whole job up front (the longest pieces first, to
the least loaded worker, so that the workers finish together) in parts of at most its share of a
batch. A worker runs its parts with no wait for the other at a batch's end, and one whose share is
done takes the last part another worker has not started. Parts come back as they finish: the job
shows progress and sees /cancel after each one.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Executor, wait
from typing import TypeVar

from workers.speech.audio import SAMPLE_RATE

R = TypeVar("R")
Part = list[int]  # the indices of the pieces recognised together

# What the encoder costs of a full piece's work (whisper-base int8, one thread: about a third of
# a 30 s piece; decoding and alignment grow with the piece's length).
ENCODER_SHARE = 0.5
WINDOW_SAMPLES = 30 * SAMPLE_RATE


def in_order(count: int, part_size: int) -> list[Part]:
    """Consecutive parts of at most ``part_size`` pieces."""
    return [list(range(first, min(first + part_size, count))) for first in range(0, count, part_size)]


def plan(lengths: Sequence[int], workers: int, part_size: int) -> list[list[Part]]:
    """Each worker's parts: its share of the pieces (by ``lengths`` in samples), in order, in parts.

    A piece costs one encoder pass whatever its length (the window is always 30 s) plus decoding
    in proportion to its length, so a short last chunk is worth about half a full one.
    """
    load = [0.0] * workers
    shares: list[list[int]] = [[] for _ in range(workers)]
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        worker = load.index(min(load))
        shares[worker].append(index)
        load[worker] += ENCODER_SHARE + lengths[index] / WINDOW_SAMPLES
    ordered = [sorted(share) for share in shares if share]
    return [[share[i : i + part_size] for i in range(0, len(share), part_size)] for share in ordered]


def side_by_side(
    parts: list[list[Part]], recognise: Callable[[Part], R], pool: Executor
) -> Generator[tuple[Part, R], None, None]:
    """(part, ``recognise(part)``) as each part finishes, each worker's parts on a thread of ``pool``.

    Closing the iterator (the job was cancelled) or an error in a part stops the workers from
    starting another part and waits for the ones running, so nothing of this job runs afterwards.
    """
    waiting = [deque(worker_parts) for worker_parts in parts]
    lock = threading.Lock()
    stop = threading.Event()
    finished: queue.SimpleQueue[tuple[Part, R] | BaseException] = queue.SimpleQueue()

    def next_part(worker: int) -> Part | None:
        with lock:
            if stop.is_set():
                return None
            if waiting[worker]:
                return waiting[worker].popleft()
            others = [parts for parts in waiting if parts]
            return max(others, key=len).pop() if others else None  # the last one, least likely to start soon

    def work(worker: int) -> None:
        try:
            while (part := next_part(worker)) is not None:
                finished.put((part, recognise(part)))
        except BaseException as exc:  # handed to the caller's thread, which raises it
            stop.set()
            finished.put(exc)

    running = [pool.submit(work, worker) for worker in range(len(parts))]
    try:
        for _ in range(sum(len(worker_parts) for worker_parts in parts)):
            done = finished.get()
            if isinstance(done, BaseException):
                raise done
            yield done
    finally:
        stop.set()
        wait(running)
