"""One monitoring round of one model: synthesise, predict, record, summarise, draw, post.

Exactly one post per chat per round, however often the round is started (a restart in the
middle, two schedulers by mistake, ``--run-now`` after the daemon):

- a Redis lock per model and round lets one process work on it at a time;
- the history is the record of what was predicted: a round whose records are already there is
  not predicted again (and its samples are seeded by model and round, so a re-run would draw the
  same ones anyway);
- each post is added to the outbox in one Redis transaction with its "posted" mark, watched,
  so a crash leaves either both or neither;
- a "done" key ends the round; later starts return at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import redis

from common import artifacts, outbox
from common.errors import DataError
from common.feature_store import LocalFeatureStore
from common.jobs import OutboxMessage, ReplyTo
from common.subscriptions import Subscriber, Subscriptions
from models import MODELS
from models.cache import ModelCache
from scheduler import captions, dashboard
from scheduler.metrics import Summary, summarise
from scheduler.reference import ReferenceTables
from scheduler.schedule import round_id as name_round
from scheduler.synthesis import round_rng, synthesise

logger = logging.getLogger(__name__)

KEY = "monitor:{what}:{model}:{round}"


@dataclass(frozen=True)
class RoundOptions:
    samples: int = 1
    drift_threshold: float = 0.10
    seed: int = 0
    lock_ttl_s: float = 120.0  # a round takes seconds; a crashed holder blocks the next one this long
    # How long the done and posted marks live: longer than the lookback for the latest due round.
    keep_s: int = 400 * 24 * 3600


@dataclass(frozen=True)
class RoundOutcome:
    model: str
    round_id: str
    status: Literal["done", "already done"]
    recorded: int = 0  # history records this run added (0: the round's records were there)
    posted: int = 0  # posts this run added to the outboxes


class Monitor:
    def __init__(
        self,
        connection: redis.Redis,
        store: LocalFeatureStore,
        models: ModelCache,
        subscriptions: Subscriptions,
        reference: ReferenceTables,
        options: RoundOptions,
    ) -> None:
        self.connection = connection
        self.store = store
        self.models = models
        self.subscriptions = subscriptions
        self.reference = reference
        self.options = options

    def run_round(self, model: str, fire_time: datetime) -> RoundOutcome:
        round_id = name_round(fire_time)
        done = KEY.format(what="done", model=model, round=round_id)
        if self.connection.exists(done):
            return RoundOutcome(model, round_id, "already done")
        lock = self.connection.lock(
            KEY.format(what="lock", model=model, round=round_id),
            timeout=self.options.lock_ttl_s,
            blocking_timeout=self.options.lock_ttl_s + 5,
        )
        if not lock.acquire():
            raise TimeoutError(f"the {model} round {round_id} stayed locked for {self.options.lock_ttl_s:.0f} s")
        try:
            if self.connection.exists(done):  # another process finished it while we waited
                return RoundOutcome(model, round_id, "already done")
            new, recorded = self.record(model, round_id, fire_time)
            summary = self.summary(model, fire_time)
            posted = self.post(model, round_id, summary, new)
            self.connection.set(done, datetime.now(UTC).isoformat(), ex=self.options.keep_s)
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:  # it outlived its time-out; the marks kept the posts single
                logger.warning("the %s round %s took longer than its lock's %s s", model, round_id,
                               self.options.lock_ttl_s)
        logger.info("%s round %s: %d new record(s), %d post(s)", model, round_id, recorded, posted)
        return RoundOutcome(model, round_id, "done", recorded, posted)

    def record(self, model: str, round_id: str, fire_time: datetime) -> tuple[list[dict[str, Any]], int]:
        """This round's history records, predicted and appended unless already there."""
        existing = [r for r in self.store.read_history(model) if r.get("round") == round_id]
        if existing:
            return existing, 0
        rng = round_rng(model, round_id, self.options.seed)
        samples = synthesise(model, self.reference.table(model), self.options.samples, rng)
        version, bundle = self.models.get(model)
        results = MODELS[model].predict(bundle, version, [sample.features for sample in samples])
        now = datetime.now(UTC).isoformat(timespec="seconds")
        records = [
            {
                "round": round_id,
                "scheduled": fire_time.isoformat(),
                "time": now,
                "sample": index,
                "model_version": version,
                "features": sample.features,
                "label": sample.label,
                "prediction": result.label,
                "probability": result.probability,
            }
            for index, (sample, result) in enumerate(zip(samples, results, strict=True))
        ]
        self.store.append_history(model, records)
        return records, len(records)

    def summary(self, model: str, now: datetime) -> Summary:
        history = self.store.read_history(model)
        version = self.models.registry.current_version_number(model)
        versions = {int(record["model_version"]) for record in history} | ({version} if version else set())
        cv_by_version = {}
        for number in sorted(versions):
            try:
                cv = self.models.registry.get(model, number).metrics.get("cv_accuracy")
            except DataError:  # an old version deleted from the registry: no promise to draw
                continue
            if cv is not None:
                cv_by_version[number] = float(cv)
        return summarise(
            model, MODELS[model].schema.labels, history, now=now, version=version,
            cv_accuracy=cv_by_version.get(version) if version is not None else None,
            threshold=self.options.drift_threshold, cv_by_version=cv_by_version,
        )

    def picture(self, summary: Summary, new: Sequence[dict[str, Any]] = ()) -> tuple[str, str]:
        """The dashboard stored as an artifact, and its caption: (artifact key, caption)."""
        key = artifacts.store(self.connection, dashboard.render(summary))
        return key, captions.caption(summary, new)

    def post(self, model: str, round_id: str, summary: Summary, new: Sequence[dict[str, Any]]) -> int:
        pending = [s for s in self.subscriptions.subscribers(model) if not self._posted(model, round_id, s)]
        if not pending:
            return 0
        key, text = self.picture(summary, new)
        posted = 0
        for subscriber in pending:
            message = message_for(model, subscriber.address(), key, text)
            posted += self._post_once(KEY.format(what="posted", model=model, round=round_id), subscriber, message)
        return posted

    def _posted(self, model: str, round_id: str, subscriber: Subscriber) -> bool:
        key = KEY.format(what="posted", model=model, round=round_id)
        return bool(self.connection.sismember(key, subscriber.encode()))

    def _post_once(self, posted_key: str, subscriber: Subscriber, message: OutboxMessage) -> bool:
        """Add the post and its mark together, unless the mark is there: exactly once per chat."""
        member = subscriber.encode()
        with self.connection.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(posted_key)
                    if pipe.sismember(posted_key, member):
                        pipe.unwatch()
                        return False
                    pipe.multi()
                    outbox.post(pipe, message)  # queued in the transaction, sent by execute()
                    pipe.sadd(posted_key, member)
                    pipe.expire(posted_key, self.options.keep_s)
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue  # someone touched the marks: look again


def message_for(model: str, reply: ReplyTo, artifact: str, text: str, job_id: str = "") -> OutboxMessage:
    return OutboxMessage(
        kind="picture",
        reply=reply,
        job_id=job_id,
        text=text,
        result=None,
        artifact=artifact,
        filename=f"{model}-dashboard.png",
    )
