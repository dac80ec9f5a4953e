"""The finished transcript to the user: one text message (the bot splits it), then the files its chat chose."""

from __future__ import annotations

import re
from dataclasses import replace

import redis

from common import artifacts, outbox
from common.jobs import OutboxMessage, TranscriptionRequest
from workers.speech import subtitles
from workers.speech.backends import Segment

MAX_TEXT_MESSAGES = 3  # longer transcripts: the beginning as text, the whole in the files
ARTIFACT_TTL_S = 24 * 3600


def post_results(
    connection: redis.Redis,
    job_id: str,
    request: TranscriptionRequest,
    segments: list[Segment],
    note: str,
    missed: str | None = None,
    buttons: list[list[str]] | None = None,
) -> list[str]:
    """Post the text and the request's files (.txt, .srt, .vtt, .json); the last message is final.

    Returns the artifact keys.

    ``missed`` (what could not be made out) comes right under the heading, before a long text is split;
    ``buttons`` ([label, action]) go under the text.
    """
    reply = request.reply
    heading = "Translation" if request.task == "translate" else "Transcript"
    warning = f"{missed}\n" if missed else ""
    text = f"{heading} ({note}):\n{warning}" + subtitles.to_text(segments).strip()
    # One message: the bot splits it to its platform's limit.
    transcript = OutboxMessage(
        kind="text", reply=reply, job_id=job_id, text=text, final=False, max_parts=MAX_TEXT_MESSAGES,
        part="transcript", buttons=buttons or [],
    )
    base = _file_base(request)
    cues = subtitles.build_cues(segments)  # once: both subtitle files show the same cues
    documents = {
        "txt": (lambda: subtitles.to_text(segments), "The text as a file."),
        "srt": (lambda: subtitles.srt_from_cues(cues), "Subtitles (.srt) with the times."),
        "vtt": (lambda: subtitles.vtt_from_cues(cues), "Subtitles (.vtt) for web players."),
        "json": (lambda: subtitles.to_json(segments, request.language, request.task),
                 "Segments and words with their times and probabilities (.json)."),
    }  # fmt: skip
    files = [(f"{base}.{kind}", documents[kind][0](), documents[kind][1]) for kind in documents
             if kind in request.files]  # fmt: skip
    transcript = replace(transcript, final=not files)  # the chat asked for no files: the text ends the job
    outbox.post(connection, transcript)
    keys = []
    for index, (filename, content, caption) in enumerate(files):
        key = artifacts.store(connection, content.encode(), ttl_s=ARTIFACT_TTL_S)
        keys.append(key)
        outbox.post(
            connection,
            OutboxMessage(
                kind="document",
                reply=reply,
                job_id=job_id,
                text=caption,
                artifact=key,
                filename=filename,
                final=index == len(files) - 1,
                part=f"file:{filename}",
            ),
        )
    return keys


def _file_base(request: TranscriptionRequest) -> str:
    name = request.filename.rsplit(".", 1)[0] if request.filename else request.source_id.split(":", 1)[-1]
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "audio"
    return f"{safe}-{request.task}-{request.language}"
