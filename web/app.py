"""The Gradio app: a tab per model, then speech, monitoring and the queue; mounted in FastAPI."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr
from fastapi import FastAPI

from bot.commands import MAX_UPLOAD_BYTES
from models import MODELS
from web import monitor_tab, predict_tab, queue_tab, speech_tab
from web.monitor_tab import History
from web.service import WebService

TITLE = "mlchat"


def build_blocks(service: WebService, history: History) -> gr.Blocks:
    with gr.Blocks(title=TITLE, analytics_enabled=False) as blocks:
        gr.Markdown(f"# {TITLE}\nThe models of the chat bots, on the same queue of workers.")
        with gr.Tabs():
            for model in MODELS.values():
                predict_tab.build(model, service)
            speech_tab.build(service)
            monitor_tab.build(service, history, blocks)
            queue_tab.build(service)
    # The RQ queue is the real queue: Gradio's own would run one request per button at a time.
    blocks.queue(default_concurrency_limit=None)
    return blocks


def build_app(
    service: WebService, history: History, *, auth: Callable[[str, str], bool] | None = None, root_path: str = ""
) -> FastAPI:
    app = FastAPI(title=TITLE, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        service.connection.ping()
        return {"status": "ok"}

    return gr.mount_gradio_app(
        app, build_blocks(service, history), path="/", auth=auth, root_path=root_path or None,
        auth_message="Log in with your mlchat account." if auth else None, footer_links=[], ssr_mode=False,
        max_file_size=MAX_UPLOAD_BYTES,
    )
