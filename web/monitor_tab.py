"""Monitoring, per model: accuracy over time and the latest predictions from the stored history, refreshed
while the page is open; the daily dashboard picture on demand (the bots' /monitor), and a round now.

The history is read where the scheduler writes it (the feature store: DATA_DIR/features, or
Hopsworks); the summary is scheduler.metrics', the same figures the dashboard draws. Pictures are
drawn by a worker: the web process never imports matplotlib.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr
import pandas as pd

from bot.replies import message_text
from models import MODELS
from models.base import TabularModel
from scheduler.metrics import summarise
from web.service import WebService, png_image, visitor

REFRESH_S = 30.0
History = Callable[[str], list[dict[str, Any]]]


def accuracy_frame(model: str, history: list[dict[str, Any]]) -> pd.DataFrame:
    """Long form for the plot: one row per round and series (the 7-day and the overall accuracy)."""
    summary = summarise(model, MODELS[model].schema.labels, history, now=pd.Timestamp.now(tz="UTC").to_pydatetime(),
                        version=None, cv_accuracy=None, threshold=0.0)  # fmt: skip
    rows = [
        {"round": point.time, "accuracy": value, "series": series}
        for point in summary.points
        for series, value in (("last 7 days", point.rolling), ("all rounds", point.cumulative))
    ]
    return pd.DataFrame(rows, columns=["round", "accuracy", "series"])


def latest_rows(model: TabularModel, history: list[dict[str, Any]]) -> list[list[Any]]:
    records = sorted(history, key=lambda record: (record["round"], record.get("time", "")))[-8:]
    return [
        [record["round"][:16].replace("T", " "), model.describe(record["features"]), record["label"],
         record["prediction"], f"{float(record['probability']):.0%}", "yes" if record["label"] == record["prediction"]
         else "no"]
        for record in reversed(records)
    ]  # fmt: skip


def build(service: WebService, history: History, blocks: gr.Blocks) -> None:
    with gr.Tab("Monitoring", id="tab-monitoring"):
        gr.Markdown("**Monitoring**: each day the scheduler predicts synthetic samples with known labels; "
                    f"how the models did (refreshed every {REFRESH_S:g} s).")  # fmt: skip
        timer = gr.Timer(REFRESH_S)
        for model in MODELS.values():
            _section(model, service, history, timer, blocks)


def _section(model: TabularModel, service: WebService, history: History, timer: gr.Timer, blocks: gr.Blocks) -> None:
    name = model.name
    with gr.Accordion(model.title, open=True), gr.Row():
        with gr.Column(scale=3):
            plot = gr.LinePlot(x="round", y="accuracy", color="series", y_lim=[0, 1], label="Accuracy over time",
                               elem_id=f"accuracy-{name}")  # fmt: skip
            table = gr.Dataframe(headers=["round", "sample", "label", "predicted", "sure", "right"], interactive=False,
                                 label="Latest predictions", elem_id=f"latest-{name}")  # fmt: skip
        with gr.Column(scale=2):
            picture = gr.Image(label="Dashboard", type="pil", interactive=False,
                                   buttons=["download", "fullscreen"], elem_id=f"dashboard-{name}")
            status = gr.Markdown(elem_id=f"monitor-status-{name}")
            with gr.Row():
                show = gr.Button("Show the dashboard", elem_id=f"dashboard-show-{name}")
                round_now = gr.Button("Run a round now", elem_id=f"round-now-{name}")

    def refresh() -> tuple[Any, Any]:
        records = history(name)
        return accuracy_frame(name, records), latest_rows(model, records)

    async def dashboard(request: gr.Request) -> AsyncIterator[tuple[Any, Any]]:
        answer = await service.send(f"/monitor {name}", visitor(request.username, request.session_hash), "dashboard")
        async for update in _picture(service, answer.text, answer.job_id):
            yield update

    async def run_round(request: gr.Request) -> AsyncIterator[tuple[Any, Any]]:
        who = visitor(request.username, request.session_hash)
        if not service.may_run_rounds(who):
            yield "Log in to run a monitoring round.", gr.update()
            return
        answer = service.enqueue_round(name, who)
        async for update in _picture(service, answer.text, answer.job_id):
            yield update

    outputs = [plot, table]
    timer.tick(refresh, outputs=outputs, show_progress="hidden")
    gr.on([picture.change], refresh, outputs=outputs, show_progress="hidden")  # a round just drew it
    round_now.click(run_round, outputs=[status, picture], api_name=f"round_{name}")
    show.click(dashboard, outputs=[status, picture], api_name=f"dashboard_{name}")
    blocks.load(refresh, outputs=outputs, show_progress="hidden")  # the figures at once, not at the first tick


async def _picture(service: WebService, text: str, job_id: str | None) -> AsyncIterator[tuple[Any, Any]]:
    yield text, gr.update()
    if not job_id:
        return
    async for message in service.follow(job_id):
        if message.kind == "picture":
            yield message_text(message), png_image(service.artifact(message.artifact))
        else:  # no history yet, a failure
            yield message_text(message), gr.update()

