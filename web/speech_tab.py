"""Speech: a link or an uploaded file, transcribed or translated by the speech workers, with live progress.

The same pipeline as a chat attachment or /transcribe <link>: bot.commands checks and queues it, the
worker's progress messages are shown as they come, Cancel is the bots' /cancel, and the .txt, .srt
and .vtt files become downloads. An uploaded video plays with the subtitles on it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from bot.commands import MAX_UPLOAD_BYTES
from web.service import WebService, visitor

SPEECH_WAIT_S = 3 * 3600  # a long video on a CPU takes a while; the page keeps showing its progress
PLAYABLE = {".mp4", ".webm", ".ogv", ".mov", ".m4v"}  # videos a browser's <video> plays, with a track
# The languages offered first; any other Whisper code can be typed.
LANGUAGES = ["sv", "auto", "en", "fi", "no", "da", "de", "fr", "es"]


def build(service: WebService) -> None:
    with gr.Tab("Speech", id="tab-speech"):
        gr.Markdown("**Speech**: a video link (YouTube) or an audio/video file, as text in its language "
                    "(transcribe) or in English (translate).")  # fmt: skip
        with gr.Row():
            with gr.Column():
                link = gr.Textbox(label="Video link", placeholder="https://www.youtube.com/watch?v=...",
                                  elem_id="speech-link")  # fmt: skip
                upload = gr.File(label="…or an audio/video file", file_types=["audio", "video"],
                                 type="filepath", elem_id="speech-file")  # fmt: skip
                task = gr.Radio(["transcribe", "translate"], value="transcribe", label="Task", elem_id="speech-task")
                language = gr.Dropdown(LANGUAGES, value="sv", allow_custom_value=True, label="Spoken language",
                                       info="auto: Whisper finds out", elem_id="speech-language")  # fmt: skip
                with gr.Row():
                    start = gr.Button("Start", variant="primary", elem_id="speech-start")
                    cancel = gr.Button("Cancel", variant="stop", elem_id="speech-cancel")
            with gr.Column():
                progress = gr.Markdown(elem_id="speech-progress")
                transcript = gr.Textbox(label="Transcript", lines=8, interactive=False, elem_id="speech-transcript")
                files = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="speech-files")
                # Always shown: a Video first rendered hidden does not take a later update (Gradio 6.31).
                player = gr.Video(label="Your video with its subtitles", interactive=False, elem_id="speech-player")
        job = gr.State("")

    async def run(
        link_text: str, path: str | None, task_name: str, spoken: str, request: gr.Request
    ) -> AsyncIterator[tuple[Any, ...]]:
        who = visitor(request.username, request.session_hash)
        keep = gr.update()
        if bool(path) == bool(link_text.strip()):
            yield "Give a video link or a file, one of the two.", "", None, None, ""
            return
        if path:
            source = Path(path)
            if source.stat().st_size > MAX_UPLOAD_BYTES:
                yield f"That file is over {MAX_UPLOAD_BYTES // 2**20} MB; send a shorter one.", "", None, keep, ""
                return
            answer = await service.send_upload(task_name, who, source.read_bytes(), source.name, spoken or "sv")
        else:
            text = f"/{task_name} {link_text.strip()} lang={spoken or 'sv'}"
            answer = await service.send(text, who, f"{task_name} {link_text.strip()[:60]}")
        if not answer.job_id:  # refused: the bots' own words
            yield answer.text, "", None, None, ""
            return
        yield answer.text, "", None, None, answer.job_id
        folder = Path(tempfile.mkdtemp(prefix="mlchat-web-"))
        try:
            async for update in _follow(service, answer.job_id, path, folder):
                yield update
        finally:  # Gradio copied each yielded file into its own cache
            shutil.rmtree(folder, ignore_errors=True)

    async def stop(job_id: str, request: gr.Request) -> str:
        if not job_id:
            return "No job of yours is running here."
        answer = await service.send(f"/cancel {job_id}", visitor(request.username, request.session_hash), "cancel")
        return answer.text

    outputs = [progress, transcript, files, player, job]
    start.click(run, inputs=[link, upload, task, language], outputs=outputs, api_name="speech")
    cancel.click(stop, inputs=[job], outputs=[progress], api_name="speech_cancel")


async def _follow(service: WebService, job_id: str, upload: str | None, folder: Path) -> AsyncIterator[tuple[Any, ...]]:
    """The job's messages as updates of (progress, transcript, downloads, player, job)."""
    keep = gr.update()
    downloads: list[str] = []
    async for message in service.follow(job_id, SPEECH_WAIT_S):
        if message.kind == "progress":
            yield message.text, keep, keep, keep, keep
        elif message.kind == "document" and message.artifact:
            data = service.artifact(message.artifact)
            if data is None:
                yield f"The file for job {job_id} expired.", keep, keep, keep, keep
                continue
            saved = folder / Path(message.filename or f"{job_id}.txt").name  # a worker's name: no folders
            saved.write_bytes(data)
            downloads.append(str(saved))
            shown = _player(upload, saved) if saved.suffix == ".vtt" else keep
            yield f"Job {job_id} is done." if message.final else keep, keep, list(downloads), shown, keep
        elif message.kind == "text" and not message.final:  # the transcript; its files follow
            yield "Writing the files…", message.text, keep, keep, keep
        else:  # a stop, a refusal, a failure: the job's last word
            yield message.text, keep, keep, keep, keep


def _player(upload: str | None, vtt: Path) -> Any:
    if not upload or Path(upload).suffix.lower() not in PLAYABLE:
        return gr.update()
    # A component as the update: its constructor turns the .vtt into a file the page can fetch.
    return gr.Video(value=upload, subtitles=str(vtt), interactive=False)
