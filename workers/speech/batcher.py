"""One recognition batch from the windows of every speech job a worker process holds.

Each job hands its windows (its speech chunks, at most 30 s each) to the process's Batcher as a
stream and reads its parts back as they are done, exactly as from ``Recogniser.recognise_parts``:
progress, the preview and /cancel stay with the job. Lanes (one per CPU worker of the model, one
on a GPU) each take a batch of at most ``batch_size / lanes`` windows (on a CPU at most the
recogniser's ``lane_windows``) and decode it; a lane whose batch is done takes the next at once.
Fewer windows than fill every lane are shared out among all of them, so that they end together.

Which windows make a batch: round-robin over the jobs, the least recently served first and the
oldest first among those, one window per job per round until the batch is full. A voice note that
arrives while a long video is decoded goes into the next batch beside the video's windows; a job's
windows keep their order. Each window carries its job's language and task (CTranslate2 takes a
prompt per row), so any jobs share a batch; a window's text does not depend on its neighbours
(the token budget is the window's own), so a job's answer is the one it gets alone.

A batch that is not full waits up to ``linger_s`` while other jobs of the process are still
fetching or searching for speech (``expecting``) and no lane is decoding: sixteen voice notes
queued at once then start in full batches rather than the first note alone, and no core waits
beside a busy one. A cancelled job's windows leave the next batch; a
batch whose decoding fails is decoded again job by job, so that the error stays with its job.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workers.speech.backends import Recogniser, Segment

logger = logging.getLogger(__name__)

LINGER_S = 0.5  # longest wait for a job still fetching, before a batch that is not full starts
WAIT_STEP_S = 1.0
Part = list[int]
Observer = Callable[[list[tuple[int, int]]], None]  # (stream number, window index) of each batch's rows


@dataclass(eq=False)
class _Stream:
    """One job's windows in the batcher."""

    number: int  # in order of arrival
    recogniser: Recogniser
    piece: Callable[[int], np.ndarray]
    language: str
    task: str
    waiting: deque[int]
    results: queue.SimpleQueue[tuple[Part, list[list[Segment]]] | BaseException] = field(
        default_factory=queue.SimpleQueue
    )
    served: int = -1  # the number of the last batch that took one of its windows


class Batcher:
    def __init__(self, batch_size: int, *, linger_s: float = LINGER_S, observer: Observer | None = None) -> None:
        self.batch_size = batch_size
        self.linger_s = linger_s
        self.observer = observer  # tests and benchmarks: which windows went together
        self._changed = threading.Condition()
        self._streams: list[_Stream] = []
        self._preparing: set[object] = set()
        self._local = threading.local()
        self._arrivals = 0
        self._batches = 0
        self._lanes = 0  # lane threads running
        self._busy = 0  # lanes decoding a batch now

    @contextmanager
    def expecting(self) -> Iterator[None]:
        """Around a job: until it hands in its windows (or ends), a batch that is not full may wait for it."""
        token = object()
        self._local.token = token
        with self._changed:
            self._preparing.add(token)
        try:
            yield
        finally:
            self._local.token = None
            with self._changed:
                self._preparing.discard(token)
                self._changed.notify_all()

    def recognise_parts(
        self,
        recogniser: Recogniser,
        lengths: Sequence[int],
        piece: Callable[[int], np.ndarray],
        *,
        language: str,
        task: str,
    ) -> Generator[tuple[Part, list[list[Segment]]], None, None]:
        """A job's windows, decoded in batches shared with other jobs: (indices, segments) as each part is done.

        Closing the iterator (/cancel) takes the job's windows that are still waiting out of the
        next batches.
        """
        with self._changed:
            stream = _Stream(self._arrivals, recogniser, piece, language, task, deque(range(len(lengths))))
            self._arrivals += 1
            self._streams.append(stream)
            self._preparing.discard(getattr(self._local, "token", None))
            for _ in range(max(0, recogniser.lanes - self._lanes)):
                self._lanes += 1
                threading.Thread(target=self._lane, name="asr-lane", daemon=True).start()
            self._changed.notify_all()
        try:
            done = 0
            while done < len(lengths):
                found = _next(stream.results)
                if isinstance(found, BaseException):
                    raise found
                done += len(found[0])
                yield found
        finally:
            with self._changed:
                stream.waiting.clear()
                self._streams.remove(stream)
                self._changed.notify_all()

    def _lane(self) -> None:
        """Takes batches and decodes them until no job is left (a new job starts the lanes again)."""
        while (rows := self._take()) is not None:
            try:
                self._decode(rows)
            finally:
                with self._changed:
                    self._busy -= 1

    def _take(self) -> list[tuple[_Stream, int]] | None:
        with self._changed:
            linger_until = None
            while True:
                ready = [stream for stream in self._streams if stream.waiting]
                if not ready:
                    if not self._streams:
                        self._lanes -= 1
                        return None
                    linger_until = None
                    self._changed.wait()
                    continue
                recogniser = min(ready, key=_order).recogniser
                lanes = max(1, recogniser.lanes)
                size = _lane_batch(recogniser, self.batch_size)
                waiting = sum(len(s.waiting) for s in ready)
                now = time.monotonic()
                linger_until = linger_until or now + self.linger_s
                # Waiting for more only pays while every lane is idle: a core left idle beside a busy one costs more.
                if waiting >= size or not self._preparing or self._busy or now >= linger_until:
                    break
                self._changed.wait(linger_until - now)
            # The last windows are shared out among all the lanes, busy ones too, so that they end
            # together: a lane that took them all while its neighbour finished left a core idle.
            size = min(size, -(-waiting // lanes))
            self._busy += 1
            # One model per batch: a newly registered version's jobs wait for a batch of their own.
            turns = sorted((s for s in ready if s.recogniser is recogniser), key=_order)
            self._batches += 1
            rows: list[tuple[_Stream, int]] = []
            while len(rows) < size and any(stream.waiting for stream in turns):
                for stream in turns:
                    if stream.waiting and len(rows) < size:
                        rows.append((stream, stream.waiting.popleft()))
                        stream.served = self._batches
            return rows

    def _decode(self, rows: list[tuple[_Stream, int]]) -> None:
        if self.observer is not None:
            self.observer([(stream.number, index) for stream, index in rows])
        streams = list(dict.fromkeys(stream for stream, _ in rows))
        started = time.perf_counter()
        try:
            found = _recognise(rows)
            logger.debug("a batch of %d windows of %d jobs in %.2f s", len(rows), len(streams),
                         time.perf_counter() - started)  # fmt: skip
        except Exception as exc:
            if len(streams) == 1:
                streams[0].results.put(exc)
                return
            logger.warning("a batch of %d jobs failed (%s); decoding each job's windows alone", len(streams), exc)
            for stream in streams:
                self._decode([row for row in rows if row[0] is stream])
            return
        for stream in streams:
            mine = [(index, segments) for (owner, index), segments in zip(rows, found, strict=True) if owner is stream]
            stream.results.put(([index for index, _ in mine], [segments for _, segments in mine]))


def windows_at_once(recogniser: Recogniser, batch_size: int) -> int:
    """How many windows the recogniser's lanes decode at once (2 CPU workers of 2 windows: 4; a GPU:
    ``batch_size``)."""
    return max(1, recogniser.lanes) * _lane_batch(recogniser, batch_size)


def _lane_batch(recogniser: Recogniser, batch_size: int) -> int:
    """The most windows one lane takes: its share of the batch, at most the recogniser's ``lane_windows``."""
    return min(-(-batch_size // max(1, recogniser.lanes)), recogniser.lane_windows or batch_size)


def _next(results: queue.SimpleQueue[Any]) -> Any:
    """The next result, waiting in steps: a job slot's timeout (an exception that RQ's TimerDeathPenalty
    raises in the job's thread) only lands between two steps of Python, never inside a blocked get."""
    while True:
        try:
            return results.get(timeout=WAIT_STEP_S)
        except queue.Empty:
            continue


def _order(stream: _Stream) -> tuple[int, int]:
    """Round-robin: the job served least recently first, the oldest first among equals."""
    return stream.served, stream.number


def _recognise(rows: list[tuple[_Stream, int]]) -> list[list[Segment]]:
    recogniser = rows[0][0].recogniser
    return recogniser.recognise_windows([(stream.piece(index), stream.language, stream.task) for stream, index in rows])


class BatchedRecogniser:
    """A recogniser whose ``recognise_parts`` goes through the process's Batcher; the rest is the model's."""

    def __init__(self, recogniser: Recogniser, batcher: Batcher) -> None:
        self.recogniser = recogniser
        self.batcher = batcher

    def recognise_parts(
        self,
        lengths: Sequence[int],
        piece: Callable[[int], np.ndarray],
        *,
        language: str,
        task: str,
        batch_size: int = 0,  # the batcher's own batch size applies
    ) -> Generator[tuple[Part, list[list[Segment]]], None, None]:
        return self.batcher.recognise_parts(self.recogniser, lengths, piece, language=language, task=task)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.recogniser, name)
