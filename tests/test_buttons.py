"""Buttons under answers: Cancel under a speech job's acknowledgement and progress, English (and
"Transcribe as ...") under a transcript; a press is its presser's own command in its own chat.

The press's data on a real Redis with real jobs, delivery's placement of the buttons, and both
bots end to end: a voice note transcribed by the real speech worker (tiny Whisper), its English
button pressed, the translation made from the same upload, with no second download; forged data
and another user's Cancel refused.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest

from bot.access import Access, AccessRules
from bot.commands import Commands
from bot.presses import Press, message_buttons, parse_press
from common import artifacts
from common.errors import BadCommand, VideoRejected
from common.jobs import OutboxMessage, ReplyTo, TranscriptionRequest
from common.outbox import OutboxReader
from common.queues import TRANSCRIBE, JobQueue
from common.video_links import LinkPolicy
from tests.emulators.discord_api import Upload
from tests.helpers import wait_for
from tests.test_speech import install_runtime, serve_speech
from tests.test_telegram_uploads import speech_worker, voice_note  # noqa: F401  (a fixture)
from workers.failures import report_failure
from workers.speech import language
from workers.speech.job import buttons

pytest_plugins = ["tests.speech_fixtures"]

ADA = ReplyTo("telegram", "-100", message="5", user="7")
BOB = ReplyTo("telegram", "-100", message="6", user="8")
ELSEWHERE = ReplyTo("telegram", "-200", message="9", user="7")


def test_press_data_is_parsed_strictly():
    assert parse_press("cancel:0123456789ab") == Press("cancel", "0123456789ab")
    assert parse_press("transcribe:fi:0123456789ab") == Press("transcribe", "0123456789ab", "fi")
    for forged in ("", "delete:0123456789ab", "cancel:0123", "translate:../../etc", "transcribe:fin-x:0123456789ab",
                   "cancel:0123456789ab:more", "translate:0123456789AB"):
        with pytest.raises(BadCommand, match="not one of mine"):
            parse_press(forged)


def test_a_transcript_offers_english_and_an_unsure_language_its_runner_up():
    swedish = TranscriptionRequest(task="transcribe", reply=ADA, source_id="url:x", url="https://x/v")
    assert buttons(swedish, None) == [["English", "translate"]]
    assert buttons(TranscriptionRequest(task="translate", reply=ADA, source_id="url:x"), None) == []
    assert buttons(TranscriptionRequest(task="transcribe", reply=ADA, source_id="u", language="en"), None) == []
    heard = language.decide({"sv": 0.86, "no": 0.12, "da": 0.02})
    assert heard == language.Heard("sv", 0.86, "no")
    assert buttons(swedish, heard) == [["English", "translate"], ["Transcribe as Norwegian", "transcribe:no"]]
    assert language.decide({"sv": 0.97, "no": 0.03}).runner_up is None, "sure: no second offer"
    message = OutboxMessage(kind="text", reply=ADA, job_id="0123456789ab", buttons=buttons(swedish, heard))
    assert message_buttons(message) == (("English", "translate:0123456789ab"),
                                        ("Transcribe as Norwegian", "transcribe:no:0123456789ab"))
    assert len("transcribe:yue:" + "f" * 32) <= 64, "within Telegram's 64 bytes of callback data"


def test_a_press_is_the_pressers_own_command_in_its_own_chat(connection):
    queue = JobQueue(connection)
    commands = Commands(queue, LinkPolicy(frozenset()))
    first = commands.transcribe_upload("transcribe", ADA, b"OggS" + bytes(100), "note.ogg")
    assert first.buttons == (("Cancel", f"cancel:{first.job_id}"),), "a queued speech job can be stopped"
    assert commands.press(f"translate:{first.job_id}", ELSEWHERE).text.startswith("That job is gone"), (
        "a job of another chat is not found, whatever the data says")
    refused = commands.press(f"cancel:{first.job_id}", BOB).text
    assert refused == f"Only the one who sent job {first.job_id} can stop it."
    english = commands.press(f"translate:{first.job_id}", BOB)  # anyone in the chat may ask for English
    again = TranscriptionRequest.from_dict(queue.fetch(english.job_id or "").args[0])
    original = TranscriptionRequest.from_dict(queue.fetch(first.job_id or "").args[0])
    assert (again.task, again.reply.user, again.artifact) == ("translate", "8", original.artifact), "the same upload"
    assert commands.press(f"cancel:{first.job_id}", ADA).text == f"Cancelled job {first.job_id}."
    assert commands.press("cancel:feedfacecafe", ADA).text.startswith("That job is gone")
    assert commands.press("rm -rf", ADA).text == "That button is not one of mine."
    assert queue.waiting(TRANSCRIBE) == 1, "only the English job waits"
    # The allow lists hold for a press as for a command: one who may not use speech gets no job.
    speech_for_ada = Access(connection, AccessRules(speech_users=frozenset({"tg:7"})))
    kept_to_ada = Commands(queue, LinkPolicy(frozenset()), access=speech_for_ada)
    assert kept_to_ada.press(f"translate:{first.job_id}", BOB).job_id is None
    assert kept_to_ada.press(f"translate:{first.job_id}", ADA).job_id is not None
    assert queue.waiting(TRANSCRIBE) == 2


@pytest.mark.slow
def test_telegram_english_button_translates_the_same_voice_note(
    telegram_api, start_telegram_bot, connection, voice_note, tiny_models, tmp_path  # noqa: F811
):
    start_telegram_bot()
    telegram_api.user_sends("voice", voice_note, mime_type="audio/ogg", duration=17)
    ack = wait_for(lambda: telegram_api.chat(111))[0]
    job_id = ack.text.split("Queued as job ")[1].split(":")[0]
    assert ack.buttons == [("Cancel", f"cancel:{job_id}")]
    speech_worker(connection, tiny_models["ctranslate2"], tmp_path / "models")
    transcript = wait_for(lambda: [m for m in telegram_api.chat(111) if m.text.startswith("Transcript (")])[0]
    assert transcript.buttons == [("English", f"translate:{job_id}")]
    wait_for(lambda: ack.text == f"Job {job_id} is done: the answer is below.")
    assert ack.buttons == [], "the finished job's Cancel button is gone"

    forged = telegram_api.user_presses(transcript, "English", data="translate:feedfacecafe")
    assert wait_for(lambda: telegram_api.callback_answers.get(forged, "").startswith("That job is gone"))
    pressed = telegram_api.user_presses(transcript, "English", user_id=8)
    second_ack = wait_for(lambda: [m for m in telegram_api.chat(111) if m.reply_to == transcript.message_id])[0]
    assert second_ack.text.startswith("Queued as job") and telegram_api.callback_answers[pressed] == ""
    other = second_ack.text.split("Queued as job ")[1].split(":")[0]
    refused = telegram_api.user_presses(second_ack, "Cancel", user_id=7)  # not Ada's job
    told = wait_for(lambda: telegram_api.callback_answers.get(refused))
    assert told == f"Only the one who sent job {other} can stop it."
    speech_worker(connection, tiny_models["ctranslate2"], tmp_path / "models")
    translation = wait_for(lambda: [m for m in telegram_api.chat(111) if m.text.startswith("Translation (")])[0]
    assert translation.reply_to == transcript.message_id and translation.buttons == []
    assert len(telegram_api.calls_of("download")) == 1, "the voice note was fetched from Telegram once"
    request = JobQueue(connection).fetch(other).args[0]
    assert (request["task"], request["reply"]["user"]) == ("translate", "8")
    assert artifacts.load(connection, request["artifact"]) == voice_note


@pytest.mark.slow
def test_discord_buttons_cancel_a_queued_job_and_translate_a_transcript(
    discord_api, start_discord_bot, connection, media_dir, tiny_models, tmp_path
):
    start_discord_bot()
    video = (media_dir / "swedish.mp4").read_bytes()
    discord_api.slash("transcribe", file=Upload("lecture.mp4", video, "video/mp4"))
    discord_api.slash("transcribe", file=Upload("second.mp4", video, "video/mp4"))
    acks = wait_for(lambda: len(responses := [m for m in discord_api.channel() if m.via == "interaction response"])
                    == 2 and responses)
    jobs = [ack.content.split("Queued as job ")[1].split(":")[0] for ack in acks]
    assert [ack.buttons for ack in acks] == [[("Cancel", f"cancel:{job}")] for job in jobs]
    stranger = discord_api.press(acks[1], "Cancel", user_id="800000000000000008")
    assert wait_for(lambda: [m for m in discord_api.channel() if m.interaction_id == stranger])[0].ephemeral
    cancelled = discord_api.press(acks[1], "Cancel")
    notice = wait_for(lambda: [m for m in discord_api.channel() if m.interaction_id == cancelled])[0]
    assert (notice.content, notice.ephemeral) == (f"Cancelled job {jobs[1]}.", True)
    speech_worker(connection, tiny_models["ctranslate2"], tmp_path / "models")
    transcript = wait_for(lambda: [m for m in discord_api.channel() if m.content.startswith("Transcript (")])[0]
    assert transcript.buttons == [("English", f"translate:{jobs[0]}")]
    wait_for(lambda: acks[0].content == f"Job {jobs[0]} is done: the answer is below." and not acks[0].buttons)
    pressed = discord_api.press(transcript, "English")
    english_ack = wait_for(lambda: [m for m in discord_api.channel() if m.interaction_id == pressed])[0]
    assert english_ack.content.startswith("Queued as job") and not english_ack.ephemeral
    speech_worker(connection, tiny_models["ctranslate2"], tmp_path / "models")
    assert wait_for(lambda: [m for m in discord_api.channel() if m.content.startswith("Translation (")])
    assert len([c for c in discord_api.calls if c.path.startswith("/attachments/")]) == 2, "no download again"


@pytest.mark.slow
def test_the_english_job_of_a_link_uses_the_audio_the_transcript_kept(connection, media_dir, tiny_models, tmp_path):
    """The video is gone from its server after the first job: the translation still comes, from the kept audio."""
    served = tmp_path / "site"
    served.mkdir()
    shutil.copy(media_dir / "swedish.mp4", served / "talk.mp4")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models", max_chunk_s=8)
        queue = JobQueue(connection)
        commands = Commands(queue, LinkPolicy(frozenset(), frozenset({"127.0.0.1"}), 120))
        first = commands.handle(f"/transcribe http://127.0.0.1:{server.server_address[1]}/talk.mp4", ADA)
        serve_speech(connection)
        kept = queue.fetch(first.job_id or "").return_value()["audio"]
        assert artifacts.load(connection, kept) == (served / "talk.mp4").read_bytes()
        (served / "talk.mp4").unlink()
        english = commands.press(f"translate:{first.job_id}", ADA)
        serve_speech(connection)
        done = queue.fetch(english.job_id or "")
        assert done.is_finished and done.return_value()["segments"] > 0
        assert done.return_value()["audio"] is None, "a translation keeps no audio: it has no English button"
    finally:
        server.shutdown()
        server.server_close()


def test_an_unclear_language_is_answered_with_a_button_per_guess(connection):
    """The refusal that names the two likeliest languages offers each as a button; a press transcribes in it."""
    queue = JobQueue(connection)
    commands = Commands(queue, LinkPolicy(frozenset()))
    asked = commands.transcribe_upload("transcribe", ADA, b"OggS" + bytes(100), "note.ogg", "auto")
    job = queue.fetch(asked.job_id or "")
    try:
        language.decide({"nn": 0.31, "sv": 0.45, "da": 0.24})
    except VideoRejected as refusal:
        report_failure(job, connection, VideoRejected, refusal, None)
    [(_, failed)] = OutboxReader(connection, "telegram").read(block_ms=10)
    assert failed.kind == "failed" and message_buttons(failed) == (
        ("Transcribe as Swedish", f"transcribe:sv:{job.id}"),
        ("Transcribe as Norwegian Nynorsk", f"transcribe:nn:{job.id}"),
    )
    again = commands.press(f"transcribe:nn:{job.id}", ADA)
    request = queue.fetch(again.job_id or "").args[0]
    assert (request["task"], request["language"], request["artifact"]) == ("transcribe", "nn", job.args[0]["artifact"])
