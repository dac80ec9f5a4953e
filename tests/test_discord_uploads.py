"""/transcribe and /translate with an attached file on `python -m bot discord`: the attachment comes in
``resolved``, is read from the emulator's CDN, queued, and transcribed by a real SimpleWorker."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from common import artifacts
from common.queues import TRANSCRIBE, JobQueue
from common.registry import LocalModelRegistry
from common.video_links import LinkPolicy
from tests.conftest import REPO
from tests.emulators.discord_api import DiscordEmulator, Upload
from tests.helpers import wait_for
from workers.speech import runtime
from workers.speech.models import AsrModels

pytest_plugins = ["tests.speech_fixtures"]

TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GhIjKl.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
CHANNEL = 500


@pytest.fixture
def emulator() -> Iterator[DiscordEmulator]:
    api = DiscordEmulator(TOKEN).start()
    yield api
    api.stop()


@pytest.fixture
def bot(emulator: DiscordEmulator, process_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m bot discord` against the emulator, identified and with its commands synced."""
    log = tmp_path / "bot.log"
    env = {**process_env, "DISCORD_TOKEN": TOKEN, "DISCORD_API_URL": emulator.api_url,
           "DISCORD_GATEWAY_URL": emulator.gateway_url}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "bot", "discord"], env=env, cwd=REPO,
                                   stdout=out, stderr=subprocess.STDOUT)
    wait_for(lambda: emulator.identified or process.poll() is not None)
    assert process.poll() is None, log.read_text()
    yield process
    process.terminate()
    process.wait(timeout=10)
    assert TOKEN.split(".")[2] not in log.read_text(), "the token leaked into the log"
    assert "Traceback" not in log.read_text(), log.read_text()


def speech_worker(connection: redis.Redis, model: Path, registry: Path) -> None:
    """Serve the transcribe queue until it is empty with the tiny CTranslate2 Whisper, in this process."""
    runtime.install(runtime.SpeechRuntime(
        models=AsrModels(LocalModelRegistry(registry), str(model), "ctranslate2", "cpu", cpu_threads=1),
        links=LinkPolicy(frozenset()), max_chunk_s=10,
    ))
    SimpleWorker([TRANSCRIBE], connection=connection, serializer=JSONSerializer).work(burst=True)


def answer_to(emulator: DiscordEmulator, interaction: int) -> str:
    return wait_for(lambda: [m.content for m in emulator.channel()
                             if m.via == "interaction response" and m.interaction_id == interaction])[0]


def test_speech_commands_take_a_link_or_a_file_and_a_language(emulator, bot):
    """The options synced: link (string), file (attachment, type 11), lang; none of them required."""
    for name in ("transcribe", "translate"):
        command = next(c for c in emulator.commands if c["name"] == name)
        options = {o["name"]: o for o in command["options"]}
        assert [(o["name"], o["type"]) for o in command["options"]] == [("link", 3), ("file", 11), ("lang", 3)]
        assert not any(o.get("required") for o in options.values())
        assert "25 MB" in options["file"]["description"]


@pytest.mark.slow
def test_transcribe_with_an_attachment_is_answered_with_the_transcript(
    emulator, bot, connection, media_dir, tiny_models, tmp_path
):
    """The attachment is read, queued as a transcription; the worker's text and .txt/.srt arrive as follow-ups."""
    video = (media_dir / "swedish.mp4").read_bytes()
    interaction = emulator.slash("transcribe", file=Upload("lecture.mp4", video, "video/mp4"))
    ack = answer_to(emulator, interaction)
    assert ack.startswith("Queued as job")
    assert [c.status for c in emulator.calls if c.path.startswith("/attachments/")] == [200]
    job_id = ack.split("Queued as job ")[1].split(":")[0]
    request = JobQueue(connection).fetch(job_id).args[0]
    assert (request["task"], request["language"], request["filename"]) == ("transcribe", "sv", "lecture.mp4")
    assert artifacts.load(connection, request["artifact"]) == video

    speech_worker(connection, tiny_models["ctranslate2"], tmp_path / "models")
    def attached() -> list[tuple[str, bytes]]:
        return [file for message in emulator.channel() for file in message.files]

    files = wait_for(lambda: len(attached()) == 3 and attached(), timeout=30)
    assert sorted(name for name, _ in files) == [
        "lecture-transcribe-sv.srt", "lecture-transcribe-sv.txt", "lecture-transcribe-sv.vtt"
    ]
    srt = dict(files)["lecture-transcribe-sv.srt"].decode()
    assert srt.startswith("1\n00:00:") and " --> " in srt
    follow_ups = [m for m in emulator.channel() if m.via == "follow-up"]
    assert all(m.interaction_id == interaction for m in follow_ups)
    assert any(m.content.startswith("Transcript (") for m in follow_ups)


def test_refusals_before_reading_the_file(emulator, bot, connection):
    """Too big, not audio/video, both a link and a file, neither: friendly answers, nothing read or queued."""
    big = emulator.slash("translate", file=Upload("film.mkv", bytes(25 * 2**20 + 1), "video/x-matroska"))
    pdf = emulator.slash("transcribe", file=Upload("notes.pdf", b"%PDF-1.7", "application/pdf"))
    both = emulator.slash("transcribe", link="https://youtu.be/dQw4w9WgXcQ", file=Upload("a.ogg", b"OggS"))
    neither = emulator.slash("translate", lang="fi")
    assert answer_to(emulator, big).startswith("That file is 25.0 MB; I take files of up to 25 MB.")
    assert answer_to(emulator, pdf) == "notes.pdf is not an audio or video file."
    assert answer_to(emulator, both) == "/transcribe takes a link or a file, not both."
    assert answer_to(emulator, neither).startswith("/translate takes one video link (and optionally lang=xx")
    assert not [c for c in emulator.calls if c.path.startswith("/attachments/")]
    assert JobQueue(connection).waiting(TRANSCRIBE) == 0


def test_attachment_with_a_language_queues_a_translation(emulator, bot, connection):
    """lang=en with a file: the request carries the language; an untyped attachment is still read."""
    interaction = emulator.slash("translate", file=Upload("talk.ogg", b"OggS voice"), lang="en")
    assert answer_to(emulator, interaction).startswith("Queued as job")
    job = connection.lrange("rq:queue:transcribe", 0, -1)[0].decode()
    request = JobQueue(connection).fetch(job).args[0]
    assert (request["task"], request["language"], request["filename"]) == ("translate", "en", "talk.ogg")
