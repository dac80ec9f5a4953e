"""The picture job: render a prediction's PNG, keep it as a short-lived artifact, post it."""

from __future__ import annotations

from typing import Any

from rq import get_current_job

from common import artifacts, outbox
from common.jobs import OutboxMessage, PictureRequest, PredictionResult
from workers import context, pictures


def run(payload: dict[str, Any]) -> str:
    job = get_current_job()
    assert job is not None, "run as an RQ job"
    request = PictureRequest.from_dict(payload)
    result = PredictionResult.from_dict(request.result)
    _, bundle = context.current().models.get(result.model)
    key = artifacts.store(job.connection, pictures.render(result, bundle))
    outbox.post(
        job.connection,
        OutboxMessage(
            kind="picture",
            reply=request.reply,
            job_id=request.job_id,
            result=request.result,
            artifact=key,
            filename=f"{result.model}-{request.job_id[:8]}.png",
            part="picture",  # of the prediction's job: a render job run twice is shown once
        ),
    )
    return key
