"""The prediction job: features in, verdict out to the user's outbox, picture queued separately."""

from __future__ import annotations

from typing import Any

from rq import get_current_job

from common import outbox
from common.jobs import OutboxMessage, PictureRequest, PredictionRequest
from common.queues import RENDER, JobQueue
from models import MODELS
from workers import context


def run(payload: dict[str, Any]) -> dict[str, Any]:
    job = get_current_job()
    assert job is not None, "run as an RQ job"
    request = PredictionRequest.from_dict(payload)
    version, bundle = context.current().models.get(request.model)
    result = MODELS[request.model].predict(bundle, version, [request.features])[0].to_dict()
    outbox.post(
        job.connection,
        OutboxMessage(
            kind="prediction", reply=request.reply, job_id=job.id, result=result, final=not request.picture,
            part="verdict",
        ),
    )
    if request.picture:
        # Rendering takes longer than predicting: it runs as its own job, off the text answer's path.
        picture = PictureRequest(job_id=job.id, reply=request.reply, result=result)
        JobQueue(job.connection).enqueue(RENDER, "workers.render.run", picture.to_dict())
    return result
