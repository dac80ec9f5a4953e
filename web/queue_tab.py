"""Queue: what `rq info` shows a user, read-only: the queues, the live workers, and the user's own jobs.

Other users' job ids are never shown: a worker's current job appears as its kind only.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from rq import Worker
from rq.registry import FailedJobRegistry, StartedJobRegistry

from common.queues import ALL_QUEUES, JobQueue
from web.service import Visitor, WebService, visitor

REFRESH_S = 5.0
KINDS = {"workers.predict.run": "prediction", "workers.render.run": "picture",
         "workers.speech.job.run": "speech", "scheduler.jobs.dashboard": "dashboard",
         "scheduler.jobs.round_now": "monitoring round"}  # fmt: skip


def queues(jobs: JobQueue) -> list[list[Any]]:
    rows = []
    for name in ALL_QUEUES:
        queue = jobs.queue(name)
        started = StartedJobRegistry(queue=queue).count
        failed = FailedJobRegistry(queue=queue).count
        rows.append([name, queue.count, started, failed])
    return rows


def workers(jobs: JobQueue) -> list[list[Any]]:
    rows = []
    for worker in Worker.all(connection=jobs.connection):
        job = worker.get_current_job_id()
        found = jobs.fetch(job) if job else None
        doing = KINDS.get(found.func_name or "", "a job") if found is not None else "idle"
        rows.append([worker.name, ", ".join(worker.queue_names()), worker.get_state(), doing])
    return sorted(rows)


def own_jobs(service: WebService, jobs: JobQueue, who: Visitor) -> list[list[Any]]:
    rows = []
    for entry in service.results.jobs_of(who.who):
        job = jobs.fetch(entry["job"])
        status = job.get_status() if job is not None else None
        progress = job.meta.get("progress") if job is not None else None
        state = status.value if status is not None else "done (forgotten)"
        if progress and state == "started":
            state = f"running: {progress.get('stage', '')} {progress.get('percent', 0)}%"
        rows.append([entry["job"], entry["what"], state])
    return rows


def build(service: WebService) -> None:
    jobs = JobQueue(service.connection)
    with gr.Tab("Queue", id="tab-queue"):
        gr.Markdown("**Queue**: the job queues and workers right now, and your recent jobs (refreshed every "
                    f"{REFRESH_S:g} s).")  # fmt: skip
        queue_table = gr.Dataframe(headers=["queue", "waiting", "running", "failed"], interactive=False,
                                   label="Queues", elem_id="queue-queues")  # fmt: skip
        worker_table = gr.Dataframe(headers=["worker", "queues", "state", "running"], interactive=False,
                                    label="Workers", elem_id="queue-workers")  # fmt: skip
        mine = gr.Dataframe(headers=["job", "what", "status"], interactive=False, label="Your jobs",
                            elem_id="queue-mine")  # fmt: skip
        refresh = gr.Button("Refresh", elem_id="queue-refresh")
        timer = gr.Timer(REFRESH_S)

    def show(request: gr.Request) -> tuple[Any, Any, Any]:
        who = visitor(request.username, request.session_hash)
        return queues(jobs), workers(jobs), own_jobs(service, jobs, who)

    outputs = [queue_table, worker_table, mine]
    refresh.click(show, outputs=outputs, api_name="queue")
    timer.tick(show, outputs=outputs, show_progress="hidden")
