"""The picture job: render a prediction's PNG, keep it as a short-lived artifact, post it."""

from __future__ import annotations

from typing import Any

from rq import get_current_job

from common import artifacts, outbox
from common.jobs import OutboxMessage, PredictionResult
from workers import context, pictures


def run(payload: dict[str, Any]) -> str:
    job = get_current_job()
    assert job is not None, "run as an RQ job"
    result = PredictionResult.from_dict(payload["result"])
    _, bundle = context.current().models.get(result.model)
    key = artifacts.store(job.connection, pictures.render(result, bundle))
    outbox.post(
        job.connection,
        OutboxMessage(
            kind="picture",
            reply=payload["reply"],
            job_id=payload["job_id"],
            result=payload["result"],
            artifact=key,
            filename=f"{result.model}-{payload['job_id'][:8]}.png",
        ),
    )
    return key
