"""/transcribe and /translate with an attached file on `python -m bot discord`: the attachment comes in
``resolved``, is read from the emulator's CDN, queued, and transcribed by a real SimpleWorker."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from common import artifacts
from common.queues import TRANSCRIBE, JobQueue
from common.registry import LocalModelRegistry
from common.video_links import LinkPolicy
from tests.emulators.discord_api import DiscordEmulator, Upload
from tests.helpers import wait_for
from tests.test_speech import serve_speech
from workers.speech import runtime
from workers.speech.models import AsrModels

pytest_plugins = ["tests.speech_fixtures"]

CHANNEL = 500


def speech_worker(connection: redis.Redis, model: Path, registry: Path) -> None:
    """Serve the transcribe queue until it is empty with the tiny CTranslate2 Whisper, in this process."""
    runtime.install(runtime.SpeechRuntime(
        models=AsrModels(LocalModelRegistry(registry), str(model), "ctranslate2", "cpu", cpu_threads=1),
        links=LinkPolicy(frozenset()), max_chunk_s=10,
    ))
    serve_speech(connection)


def answer_to(discord_api: DiscordEmulator, interaction: int) -> str:
    return wait_for(lambda: [m.content for m in discord_api.channel()
                             if m.via == "interaction response" and m.interaction_id == interaction])[0]


def test_speech_commands_take_a_link_or_a_file_and_a_language(discord_api, start_discord_bot):
    """The options synced: link (string), file (attachment, type 11), lang; none of them required."""
    start_discord_bot()
    for name in ("transcribe", "translate"):
        command = next(c for c in discord_api.commands if c["name"] == name)
        options = {o["name"]: o for o in command["options"]}
        assert [(o["name"], o["type"]) for o in command["options"]] == [("link", 3), ("file", 11), ("lang", 3)]
        assert not any(o.get("required") for o in options.values())
        assert "25 MB" in options["file"]["description"]


@pytest.mark.slow
def test_transcribe_with_an_attachment_is_answered_with_the_transcript(
    discord_api, start_discord_bot, connection, media_dir, tiny_models, tmp_path
):
    """The attachment is read, queued as a transcription; the worker's text and .txt/.srt arrive as follow-ups."""
    start_discord_bot()
    video = (media_dir / "swedish.mp4").read_bytes()
    interaction = discord_api.slash("transcribe", file=Upload("lecture.mp4", video, "video/mp4"))
    ack = answer_to(discord_api, interaction)
    assert ack.startswith("Queued as job")
    assert [c.status for c in discord_api.calls if c.path.startswith("/attachments/")] == [200]
    job_id = ack.split("Queued as job ")[1].split(":")[0]
    request = JobQueue(connection).fetch(job_id).args[0]
    assert (request["task"], request["language"], request["filename"]) == ("transcribe", "sv", "lecture.mp4")
    assert artifacts.load(connection, request["artifact"]) == video

    speech_worker(connection, tiny_models["ctranslate2"], tmp_path / "models")
    def attached() -> list[tuple[str, bytes]]:
        return [file for message in discord_api.channel() for file in message.files]

    files = wait_for(lambda: len(attached()) == 3 and attached(), timeout=30)
    assert sorted(name for name, _ in files) == [
        "lecture-transcribe-sv.srt", "lecture-transcribe-sv.txt", "lecture-transcribe-sv.vtt"
    ]
    srt = dict(files)["lecture-transcribe-sv.srt"].decode()
    assert srt.startswith("1\n00:00:") and " --> " in srt
    follow_ups = [m for m in discord_api.channel() if m.via == "follow-up"]
    assert all(m.interaction_id == interaction for m in follow_ups)
    assert any(m.content.startswith("Transcript (") for m in follow_ups)


def test_refusals_before_reading_the_file(discord_api, start_discord_bot, connection):
    """Too big, not audio/video, both a link and a file, neither: friendly answers, nothing read or queued."""
    start_discord_bot()
    big = discord_api.slash("translate", file=Upload("film.mkv", bytes(25 * 2**20 + 1), "video/x-matroska"))
    pdf = discord_api.slash("transcribe", file=Upload("notes.pdf", b"%PDF-1.7", "application/pdf"))
    both = discord_api.slash("transcribe", link="https://youtu.be/dQw4w9WgXcQ", file=Upload("a.ogg", b"OggS"))
    neither = discord_api.slash("translate", lang="fi")
    assert answer_to(discord_api, big).startswith("That file is 25.0 MB; I take files of up to 25 MB.")
    assert answer_to(discord_api, pdf) == "notes.pdf is not an audio or video file."
    assert answer_to(discord_api, both) == "/transcribe takes a link or a file, not both."
    assert answer_to(discord_api, neither).startswith("/translate takes one video link (and optionally lang=xx")
    assert not [c for c in discord_api.calls if c.path.startswith("/attachments/")]
    assert JobQueue(connection).waiting(TRANSCRIBE) == 0


def test_attachment_with_a_language_queues_a_translation(discord_api, start_discord_bot, connection):
    """lang=en with a file: the request carries the language; an untyped attachment is still read."""
    start_discord_bot()
    interaction = discord_api.slash("translate", file=Upload("talk.ogg", b"OggS voice"), lang="en")
    assert answer_to(discord_api, interaction).startswith("Queued as job")
    job = connection.lrange("rq:queue:transcribe", 0, -1)[0].decode()
    request = JobQueue(connection).fetch(job).args[0]
    assert (request["task"], request["language"], request["filename"]) == ("translate", "en", "talk.ogg")
