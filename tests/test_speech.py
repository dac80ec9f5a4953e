"""The speech job end to end: console bot -> Redis -> a real RQ worker -> yt-dlp from 127.0.0.1 -> ffmpeg
-> speech detection -> a tiny random-weight Whisper (CTranslate2) -> outbox -> console.

The tiny model's words are noise; what is asserted is the pipeline: messages, files, SRT validity,
progress, cache, cancellation and every refusal.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import redis
from rq.serializers import JSONSerializer

from bot.commands import Commands
from bot.console import ConsoleBot
from bot.text_split import split_text
from common import artifacts, durations
from common.jobs import ReplyTo
from common.outbox import OutboxReader
from common.queues import TRANSCRIBE, JobQueue
from common.registry import LocalModelRegistry
from common.settings import YOUTUBE_HOSTS
from common.video_links import LinkPolicy
from tests.helpers import wait_for
from workers.heartbeat import HeartbeatWorker, Liveness
from workers.speech import runtime
from workers.speech.backends import Segment
from workers.speech.backends.decoding import DecodeOptions
from workers.speech.models import AsrModels
from workers.speech.subtitles import Cue, to_srt

SRT_CUE = re.compile(
    r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)\n(.+?)(?:\n\n|\n?$)", re.S
)

# The media, HTTP server and tiny models: built once per session for every speech test module.
pytest_plugins = ["tests.speech_fixtures"]


def install_runtime(
    model: Path,
    backend: str,
    registry_root: Path,
    *,
    max_seconds: int = 120,
    mt_model: str | None = None,
    max_chunk_s: float = 30.0,
    batch_size: int = 2,
) -> runtime.SpeechRuntime:
    """The worker's speech runtime on ``model``; small batches, so that progress and /cancel come between them."""
    options = DecodeOptions(batch_size=batch_size)
    speech = runtime.SpeechRuntime(
        models=AsrModels(LocalModelRegistry(registry_root), str(model), backend, "cpu", cpu_threads=1, options=options),
        links=LinkPolicy(frozenset(YOUTUBE_HOSTS.split(",")), frozenset({"127.0.0.1"}), max_seconds),
        mt_model=mt_model,
        max_chunk_s=max_chunk_s,
    )
    runtime.install(speech)
    return speech


def serve_speech(connection: redis.Redis) -> None:
    """The worker `python -m workers --queues transcribe` runs, in this process, until the queue is empty."""
    worker = HeartbeatWorker([TRANSCRIBE], connection=connection, serializer=JSONSerializer, liveness=Liveness())
    worker.work(burst=True)


def console_session(
    connection: redis.Redis, lines: str, picture_dir: Path, max_seconds: int = 120, wait_s: float = 60
) -> str:
    """Run the console bot on ``lines`` while the real speech worker serves the transcribe queue; its output."""
    out = io.StringIO()
    commands = Commands(JobQueue(connection), LinkPolicy(frozenset(), frozenset({"127.0.0.1"}), max_seconds))
    bot = ConsoleBot(commands, connection, picture_dir, stdin=io.StringIO(lines), stdout=out, wait_s=wait_s)
    codes: list[int] = []
    console = threading.Thread(target=lambda: codes.append(bot.run()))
    console.start()
    wait_for(lambda: JobQueue(connection).waiting(TRANSCRIBE) == lines.count("\n") or codes)
    serve_speech(connection)
    console.join(timeout=wait_s)
    assert codes == [0], out.getvalue()
    return out.getvalue()


def parse_srt(text: str) -> list[tuple[int, float, float, str]]:
    cues = []
    for match in SRT_CUE.finditer(text):
        numbers = [int(x) for x in match.groups()[:9]]
        start = numbers[1] * 3600 + numbers[2] * 60 + numbers[3] + numbers[4] / 1000
        end = numbers[5] * 3600 + numbers[6] * 60 + numbers[7] + numbers[8] / 1000
        cues.append((numbers[0], start, end, match.group(10)))
    return cues


def assert_valid_srt(text: str) -> list[tuple[int, float, float, str]]:
    cues = parse_srt(text)
    assert cues, text
    assert "\n\n".join(block for block in text.strip().split("\n\n")) == text.strip()
    assert len(cues) == len(text.strip().split("\n\n")), "every block is a well-formed cue"
    assert [cue[0] for cue in cues] == list(range(1, len(cues) + 1))
    previous_end = 0.0
    for _, start, end, body in cues:
        assert previous_end <= start < end, cues
        assert body.strip()
        previous_end = end
    return cues


def srt_cues(text: str) -> list[Cue]:
    """The cues of a valid .srt, as the subtitle rules judge them."""
    return [Cue(start, end, tuple(body.splitlines())) for _, start, end, body in assert_valid_srt(text)]


def documents(connection: redis.Redis) -> dict[str, bytes]:
    """The text artifacts in Redis by their first bytes' kind (not a link's audio, kept for an English button)."""
    found = {}
    for key in connection.keys("artifact:*"):
        data = artifacts.load(connection, key.decode())
        assert data is not None
        assert 0 < connection.ttl(key) <= 24 * 3600, "artifacts are short-lived"
        if b"\x00" in data:
            continue  # media, not text
        kind = "srt" if data.startswith(b"1\n00:") else "vtt" if data.startswith(b"WEBVTT") else "txt"
        assert kind not in found, f"one {kind} file per job"
        found[kind] = data
    return found


@pytest.mark.slow
def test_transcribe_a_video_link_end_to_end(connection, media_server, tiny_models, tmp_path):
    """Ack, progress, text, a .txt and a valid .srt; the same link again comes from the cache, without download."""
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models", max_chunk_s=8)
    link = f"{media_server}/swedish.mp4"
    out = console_session(connection, f"/transcribe {link}\n", tmp_path)
    assert out.splitlines()[0].startswith("Queued as job")
    assert "Downloading the audio: 100%" in out
    assert "Recognising speech: 100%" in out
    assert re.search(r"Recognising speech: [1-9]\d?%\n\S", out), "progress between chunks, with the first text"
    assert "Transcript (" in out and "(ctranslate2)" in out
    assert "Subtitles (.srt) with the times." in out and "The text as a file." in out
    files = documents(connection)
    written = {
        Path(line.split(" written to ")[1]).suffix: Path(line.split(" written to ")[1])
        for line in out.splitlines()
        if "file written to" in line
    }
    assert {suffix: path.read_bytes() for suffix, path in written.items()} == {
        f".{kind}": data for kind, data in files.items()
    }, "the console saves both files where it says"
    cues = assert_valid_srt(files["srt"].decode())
    assert cues[-1][1] < 17.4, "cues start within the 17.4 s of audio (the last may stay on screen to be read)"
    assert files["txt"].decode().strip()
    job_id = out.split("Queued as job ")[1].split(":")[0]
    job = JobQueue(connection).fetch(job_id)
    assert job is not None and job.meta["progress"] == {"stage": "recognising", "percent": 100}
    assert job.return_value()["cached"] is False
    assert job.return_value()["audio_s"] == pytest.approx(17.4, abs=0.3)

    again = console_session(connection, f"/transcribe {link}\n", tmp_path)
    assert "from cache" in again
    assert "Downloading" not in again and "Recognising" not in again
    # Answered from the cache: no time went to fetching or recognising (not a wall-clock bound on a busy machine).
    cached = JobQueue(connection).fetch(again.split("Queued as job ")[1].split(":")[0])
    assert cached is not None
    assert {key: cached.return_value()[key] for key in ("cached", "fetch_s", "recognise_s")} == {
        "cached": True, "fetch_s": 0.0, "recognise_s": 0.0
    }
    [(run_s, audio_s)] = [json.loads(run) for run in connection.lrange(durations.key(TRANSCRIBE), 0, -1)]
    assert audio_s == pytest.approx(17.4, abs=0.3) and run_s > 0, "the waiting times learn from the real run only"


@pytest.mark.parametrize(
    ("name", "reply", "max_seconds"),
    [
        ("no-audio.mp4", "That video has no sound track.", 120),
        ("silence.mp4", "I heard no speech in that video.", 120),
        ("missing.mp4", "That video is unavailable", 120),
        ("swedish.mp4", "s long; I take videos up to 5 s.", 5),
        ("list.xspf", "That is a playlist; send a link to one video of it.", 120),
        ("live.m3u8", "That is a live stream", 120),
    ],
)
def test_videos_the_worker_refuses_get_a_clear_answer(
    connection, media_server, tiny_models, tmp_path, name, reply, max_seconds
):
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models", max_seconds=max_seconds)
    out = console_session(connection, f"/transcribe {media_server}/{name}\n", tmp_path, max_seconds)
    assert reply in out
    assert not connection.keys("artifact:*")
    assert not connection.keys("speech:result:*"), "refusals are not cached"


def test_an_unknown_language_code_is_refused_by_the_worker(connection, media_server, tiny_models, tmp_path):
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models")
    out = console_session(connection, f"/transcribe {media_server}/swedish.mp4 lang=qq\n", tmp_path)
    assert "Whisper does not know the language code 'qq'" in out


def test_console_refuses_links_before_queueing(connection, tmp_path):
    """Not a URL, a host not allowed, a private address: answered at once, nothing queued."""
    out = io.StringIO()
    commands = Commands(JobQueue(connection), LinkPolicy(frozenset({"localhost", "example.com"})))
    bot = ConsoleBot(
        commands,
        connection,
        tmp_path,
        stdout=out,
        wait_s=1,
        stdin=io.StringIO(
            "/transcribe not-a-link\n/translate https://vimeo.com/1\n/transcribe http://localhost:9/a.mp4\n"
        ),
    )
    assert bot.run() == 0
    text = out.getvalue()
    assert "not a link" in text
    assert "I only take videos from these sites: example.com, localhost (not vimeo.com)" in text
    assert "private network address" in text
    assert JobQueue(connection).waiting(TRANSCRIBE) == 0


@pytest.mark.slow
def test_cancel_stops_a_running_transcription_between_chunks(connection, media_server, tiny_models, tmp_path):
    """/cancel of a started job (a SimpleWorker cannot kill it) stops it at the next chunk, with a final message."""
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models", max_chunk_s=5)
    reply = ReplyTo(outbox="console-cancel", chat="me")
    commands = Commands(JobQueue(connection), LinkPolicy(frozenset(), frozenset({"127.0.0.1"})))
    job_id = commands.handle(f"/transcribe {media_server}/long.wav", reply).job_id
    assert job_id
    answers: list[str] = []

    def cancel_when_recognising() -> None:
        def recognising() -> bool:
            job = JobQueue(connection).fetch(job_id)
            return bool(job) and job.get_meta(refresh=True).get("progress", {}).get("stage") == "recognising"

        wait_for(recognising, timeout=60, interval=0.02)
        answers.append(commands.handle(f"/status {job_id}", reply).text)
        answers.append(commands.handle(f"/cancel {job_id}", reply).text)

    canceller = threading.Thread(target=cancel_when_recognising)
    canceller.start()
    started = time.monotonic()
    serve_speech(connection)
    canceller.join(timeout=10)
    assert answers[0].startswith(f"Job {job_id} is running: recognising ")
    assert answers[1:] == [f"Stopping job {job_id}."]
    messages = [message for _, message in OutboxReader(connection, "console-cancel").read(block_ms=10, count=500)]
    assert messages[-1].text == f"Stopped job {job_id} as you asked." and messages[-1].final
    recognised = [m.text for m in messages if m.kind == "progress" and m.text.startswith("Recognising")]
    assert recognised and "100%" not in recognised[-1], "stopped before the end"
    assert not any(m.kind == "document" for m in messages)
    assert not connection.keys("speech:result:*"), "a cancelled job caches nothing"
    assert time.monotonic() - started < 60


def test_cancel_of_a_queued_transcription_removes_it(connection):
    commands = Commands(JobQueue(connection), LinkPolicy(frozenset(), frozenset({"127.0.0.1"})))
    reply = ReplyTo(outbox="console-q", chat="me")
    job_id = commands.handle("/transcribe http://127.0.0.1:9/a.mp4", reply).job_id
    assert commands.handle(f"/cancel {job_id}", reply).text == f"Cancelled job {job_id}."
    assert JobQueue(connection).waiting(TRANSCRIBE) == 0


@pytest.mark.slow
def test_chat_attachments_go_through_the_same_pipeline(connection, media_dir, tiny_models, tmp_path):
    """Uploaded bytes are transcribed too: a Telegram voice note and a Discord attachment both arrive so (the
    adapters download the file, whose URL needs the bot's token, and pass its bytes)."""
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models", max_chunk_s=10)
    commands = Commands(JobQueue(connection))
    reply = ReplyTo(outbox="console-upload", chat="me")
    data = (media_dir / "swedish.mp4").read_bytes()
    answer = commands.transcribe_upload("transcribe", reply, data, "voice note.mp4")
    assert answer.job_id and "in line" in answer.text
    attachment = commands.transcribe_upload("translate", reply, (media_dir / "swedish.wav").read_bytes(), "clip.wav")
    assert attachment.job_id
    serve_speech(connection)
    messages = [message for _, message in OutboxReader(connection, "console-upload").read(block_ms=10, count=500)]
    names = sorted(m.filename for m in messages if m.kind == "document")
    assert names == [
        "clip-translate-sv.srt",
        "clip-translate-sv.txt",
        "clip-translate-sv.vtt",
        "voice-note-transcribe-sv.srt",
        "voice-note-transcribe-sv.txt",
        "voice-note-transcribe-sv.vtt",
    ]
    assert sum(m.final for m in messages) == 2
    assert "too big" not in commands.transcribe_upload("transcribe", reply, b"", "x.ogg").text
    assert "is empty" in commands.transcribe_upload("transcribe", reply, b"", "x.ogg").text
    assert "lang= takes" in commands.transcribe_upload("transcribe", reply, b"x", "x.ogg", language="1").text


def test_uploads_the_worker_refuses_get_a_clear_answer(connection, media_dir, tiny_models, tmp_path):
    """ffmpeg decodes; only what it refuses or what runs past the limit is looked at with ffprobe, for the
    sentence: no sound track, not media at all, and a long file's whole length (ffmpeg stopped reading)."""
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models", max_seconds=5)
    commands = Commands(JobQueue(connection))
    reply = ReplyTo(outbox="console-refused", chat="me")
    uploads = [
        ("silent film.mp4", (media_dir / "no-audio.mp4").read_bytes(), "That video has no sound track."),
        ("noise.mp4", np.random.default_rng(1).bytes(50_000), "That file is not audio or video I can read."),
        ("talk.mp4", (media_dir / "swedish.mp4").read_bytes(), "That video is 18 s long; I take videos up to 5 s."),
    ]
    for name, data, _ in uploads:
        assert commands.transcribe_upload("transcribe", reply, data, name).job_id
    serve_speech(connection)
    messages = [message for _, message in OutboxReader(connection, "console-refused").read(block_ms=10, count=500)]
    finals = [message.text or "" for message in messages if message.final]
    assert len(finals) == 3
    for final, (_, _, sentence) in zip(finals, uploads, strict=True):
        assert sentence in final

def test_long_text_is_split_within_each_platform_limit():
    words = " ".join(f"ord{i}" for i in range(3000))
    for limit in (2000, 4096):
        pieces = split_text(words, limit)
        assert all(len(piece) <= limit for piece in pieces)
        assert " ".join(pieces) == words


def test_srt_is_valid_even_when_model_times_overlap():
    segments = [Segment(0.0, 2.0, "ett"), Segment(1.5, 1.0, "två"), Segment(3600.5, 3601.25, "tre\n\nfyra")]
    text = to_srt(segments)
    cues = assert_valid_srt(text)
    assert " ".join(body.replace("\n", " ") for *_, body in cues).split() == ["ett", "två", "tre", "fyra"]
    assert cues[-1][1] >= 3599.5 and cues[-1][2] <= 3601.25, "the last cue keeps its hour and ends with its speech"
