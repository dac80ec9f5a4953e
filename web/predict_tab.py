"""One tab per model in MODELS: the form from its schema, then the verdict and its picture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from bot.replies import message_text
from models.base import TabularModel
from web.forms import command_text, fields
from web.service import WebService, png_image, visitor


def build(model: TabularModel, service: WebService) -> None:
    with gr.Tab(model.title, id=f"tab-{model.name}"):
        gr.Markdown(f"**{model.title}**: {model.help}")
        with gr.Row():
            with gr.Column():
                inputs = fields(model)
                submit = gr.Button("Predict", variant="primary", elem_id=f"predict-{model.name}")
            with gr.Column():
                status = gr.Markdown(elem_id=f"status-{model.name}")
                verdict = gr.Textbox(label="Verdict", interactive=False, elem_id=f"verdict-{model.name}")
                picture = gr.Image(label="Picture", type="pil", interactive=False, buttons=["download", "fullscreen"],
                                   elem_id=f"picture-{model.name}")

    # The request first: Gradio puts it where its annotation is, and the fields follow in the schema's order.
    async def predict(request: gr.Request, *values: Any) -> AsyncIterator[tuple[Any, Any, Any]]:
        who = visitor(request.username, request.session_hash)
        answer = await service.send(command_text(model.schema, values), who, model.name)
        if not answer.job_id:  # refused: the bots' own words, nothing queued
            yield "", answer.text, None
            return
        yield answer.text, "", None
        async for message in service.follow(answer.job_id):
            if message.kind == "picture":
                data = service.artifact(message.artifact)
                yield f"Job {answer.job_id} is done.", message_text(message), png_image(data)
            elif message.kind == "progress":
                yield message.text, gr.update(), gr.update()
            else:  # the verdict before its picture, a failure, a note about the wait
                yield gr.update(), message_text(message), gr.update()

    submit.click(predict, inputs=inputs, outputs=[status, verdict, picture], api_name=f"predict_{model.name}")

