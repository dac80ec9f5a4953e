"""Voice notes and audio/video files sent to `python -m bot telegram`: downloaded through the Bot API
emulator (getFile + file route), queued, and transcribed by a real SimpleWorker with a tiny Whisper."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import redis

from bot.telegram_uploads import LOCAL_DOWNLOAD_LIMIT, _too_big
from common import artifacts
from common.queues import TRANSCRIBE, JobQueue
from common.registry import LocalModelRegistry
from common.video_links import LinkPolicy
from tests.emulators.telegram_api import SentMessage
from tests.helpers import wait_for
from tests.test_speech import serve_speech
from workers.speech import runtime
from workers.speech.models import AsrModels

pytest_plugins = ["tests.speech_fixtures"]

CHAT = 111
GROUP = -1001234


@pytest.fixture(scope="module")
def voice_note(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The espeak-ng Swedish speech as Telegram records voice notes: OGG/Opus, mono."""
    path = tmp_path_factory.mktemp("voice") / "voice.ogg"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(media_dir / "swedish.wav"), "-ac", "1",
                    "-c:a", "libopus", "-b:a", "24k", str(path)], check=True)
    return path.read_bytes()


def speech_worker(connection: redis.Redis, model: Path, registry: Path) -> None:
    """Serve the transcribe queue until it is empty with the tiny CTranslate2 Whisper, in this process."""
    runtime.install(runtime.SpeechRuntime(
        models=AsrModels(LocalModelRegistry(registry), str(model), "ctranslate2", "cpu", cpu_threads=1),
        links=LinkPolicy(frozenset()), max_chunk_s=10,
    ))
    serve_speech(connection)


@pytest.mark.slow
def test_voice_note_is_acknowledged_then_transcribed(
    telegram_api, start_telegram_bot, connection, voice_note, tiny_models, tmp_path
):
    """A voice note without caption: downloaded via getFile, an ack, progress edits, the text and .txt/.srt files."""
    start_telegram_bot()
    asked = telegram_api.user_sends("voice", voice_note, mime_type="audio/ogg", duration=17)
    ack = wait_for(lambda: telegram_api.chat(CHAT))[0]
    assert ack.reply_to == asked and ack.text.startswith("Queued as job")
    assert [c.status for c in telegram_api.calls_of("getFile")] == [200]
    assert [c.status for c in telegram_api.calls_of("download")] == [200]
    job_id = ack.text.split("Queued as job ")[1].split(":")[0]
    request = JobQueue(connection).fetch(job_id).args[0]
    assert (request["task"], request["language"], request["filename"]) == ("transcribe", "sv", "voice-note.ogg")
    assert artifacts.load(connection, request["artifact"]) == voice_note

    speech_worker(connection, tiny_models["ctranslate2"], tmp_path / "models")
    def documents() -> dict[str, SentMessage]:
        return {m.filename or "": m for m in telegram_api.chat(CHAT) if m.document is not None}

    files = wait_for(lambda: len(documents()) == 3 and documents(), timeout=30)
    assert sorted(files) == [
        "voice-note-transcribe-sv.srt", "voice-note-transcribe-sv.txt", "voice-note-transcribe-sv.vtt"
    ]
    srt = files["voice-note-transcribe-sv.srt"].document.decode()
    assert srt.startswith("1\n00:00:") and " --> " in srt
    assert all(m.reply_to == asked for m in telegram_api.chat(CHAT))
    wait_for(lambda: ack.edits[-1] == f"Job {job_id} is done: the answer is below.")  # edited after the last file
    transcript = telegram_api.chat(CHAT)[1]
    assert transcript.text.startswith("Transcript (") and "(ctranslate2)" in transcript.text
    assert len(telegram_api.chat(CHAT)) == 5, "ack, transcript, .txt, .srt, .vtt"


def test_file_over_20_mb_is_refused_without_downloading(telegram_api, start_telegram_bot, connection):
    """Telegram lets bots download 20 MB: a bigger video gets a friendly answer, no getFile, nothing queued."""
    start_telegram_bot()
    big = bytes(21 * 2**20)
    asked = telegram_api.user_sends("video", big, mime_type="video/mp4", file_name="lecture.mp4")
    answer = wait_for(lambda: telegram_api.chat(CHAT))[0]
    assert answer.reply_to == asked
    assert "That file is 21.0 MB; Telegram lets bots download files of up to 20 MB." in answer.text
    assert telegram_api.calls_of("getFile") == [] and telegram_api.calls_of("download") == []
    # Without a size in the message, getFile's own refusal gets the same answer.
    telegram_api.user_sends("document", big, mime_type="audio/wav", file_name="long.wav", sized=False)
    wait_for(lambda: len(telegram_api.chat(CHAT)) == 2)
    assert telegram_api.chat(CHAT)[1].text.startswith("That file is too big; Telegram lets bots download files of up")
    assert [c.status for c in telegram_api.calls_of("getFile")] == [400] and telegram_api.calls_of("download") == []
    assert JobQueue(connection).waiting(TRANSCRIBE) == 0


@pytest.mark.slow
def test_a_local_bot_api_server_lifts_the_20_mb_limit(telegram_api, start_telegram_bot, connection, tmp_path):
    """TELEGRAM_LOCAL_MODE=true: getFile names a path on the local server's disk, and a 21 MB video is read
    from there and queued; the limit is then what one Redis value holds."""
    telegram_api.local_dir = tmp_path / "telegram-bot-api"
    start_telegram_bot(TELEGRAM_LOCAL_MODE="true")
    big = bytes(range(256)) * (21 * 2**12)
    telegram_api.user_sends("video", big, mime_type="video/mp4", file_name="lecture.mp4")
    ack = wait_for(lambda: telegram_api.chat(CHAT), timeout=30)[0]
    assert ack.text.startswith("Queued as job"), ack.text
    assert [c.status for c in telegram_api.calls_of("getFile")] == [200]
    assert telegram_api.calls_of("download") == [], "read from the server's disk, not over HTTP"
    job_id = ack.text.split("Queued as job ")[1].split(":")[0]
    assert artifacts.load(connection, JobQueue(connection).fetch(job_id).args[0]["artifact"]) == big
    refusal = _too_big(600 * 2**20, LOCAL_DOWNLOAD_LIMIT)
    assert refusal.startswith("That file is 600.0 MB; I take files of up to 500 MB.")


def test_caption_picks_task_and_language_and_groups_need_a_command(telegram_api, start_telegram_bot, connection):
    """`/translate lang=en` on an audio document queues a translation of English speech; in a group a file
    without /transcribe or /translate is ignored; a caption with another command gets a hint."""
    start_telegram_bot()
    telegram_api.user_sends("document", b"ID3 some mp3", mime_type="audio/mpeg", file_name="talk.mp3",
                        caption="/translate lang=en")
    telegram_api.user_sends("voice", b"OggS ignored", mime_type="audio/ogg", chat_id=GROUP)
    telegram_api.user_sends("video_note", b"mp4 round", caption="/transcribe@mljobs_bot", chat_id=GROUP)
    telegram_api.user_sends("audio", b"OggS song", mime_type="audio/ogg", file_name="song.ogg", caption="/iris")
    telegram_api.user_sends("document", b"%PDF", mime_type="application/pdf", file_name="notes.pdf")
    wait_for(lambda: len(telegram_api.chat(CHAT)) == 2 and telegram_api.chat(GROUP))
    translated, hint = sorted(telegram_api.chat(CHAT), key=lambda m: not m.text.startswith("Queued as job"))
    assert translated.text.startswith("Queued as job")
    assert hint.text.startswith("/iris takes no file: caption it /transcribe or /translate")
    queue = JobQueue(connection)
    requests = [queue.fetch(job.decode()).args[0] for job in connection.lrange("rq:queue:transcribe", 0, -1)]
    by_name = {request["filename"]: request for request in requests}
    assert sorted(by_name) == ["talk.mp3", "video-note.mp4"]
    assert (by_name["talk.mp3"]["task"], by_name["talk.mp3"]["language"]) == ("translate", "en")
    assert artifacts.load(connection, by_name["talk.mp3"]["artifact"]) == b"ID3 some mp3"
    assert by_name["video-note.mp4"]["task"] == "transcribe"
    assert len(telegram_api.calls_of("getFile")) == 2, "the group's voice note, the /iris and the PDF are not fetched"


def test_user_over_the_rate_limit_gets_busy_before_the_file_is_downloaded(telegram_api, start_telegram_bot,
                                                                          connection):
    """With USER_JOBS_PER_MINUTE=1 a first voice note is counted once and queued; a second is answered 'busy'
    without getFile or a download, and nothing more is queued."""
    start_telegram_bot(USER_JOBS_PER_MINUTE="1")
    telegram_api.user_sends("voice", b"OggS first", mime_type="audio/ogg")
    queued = wait_for(lambda: telegram_api.chat(CHAT))[0]
    assert queued.text.startswith("Queued as job"), queued.text
    assert len(telegram_api.calls_of("getFile")) == 1 and len(telegram_api.calls_of("download")) == 1
    asked = telegram_api.user_sends("voice", b"OggS second", mime_type="audio/ogg")
    refused = wait_for(lambda: len(telegram_api.chat(CHAT)) == 2 and telegram_api.chat(CHAT)[1])
    assert refused.reply_to == asked
    assert "busy, try again in" in refused.text
    assert len(telegram_api.calls_of("getFile")) == 1 and len(telegram_api.calls_of("download")) == 1
    assert JobQueue(connection).waiting(TRANSCRIBE) == 1
