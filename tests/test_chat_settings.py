"""/settings: a chat's spoken language, task for captionless files, voice notes and transcript files.

Parsing and the store on a real Redis; the settings in a job's request; a .json transcript through
the real speech worker; in a Telegram group and a Discord server an admin changes them and a
member is told who can; they outlive a bot restart.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.commands import Commands
from bot.parsing import ChatConfig, parse
from common import artifacts
from common.chat_settings import ChatSettings, ChatSettingsStore
from common.errors import BadCommand
from common.jobs import ReplyTo, TranscriptionRequest
from common.outbox import OutboxReader
from common.queues import TRANSCRIBE, JobQueue
from common.video_links import LinkPolicy
from tests.emulators.discord_api import MANAGE_GUILD, MEMBER_PERMISSIONS
from tests.helpers import stop_process, wait_for
from tests.test_speech import install_runtime, serve_speech

pytest_plugins = ["tests.speech_fixtures"]

GROUP = ReplyTo("telegram", "-100", user="7")
PRIVATE = ReplyTo("telegram", "7", user="7")


def test_settings_are_parsed_strictly():
    assert parse("/settings") == ChatConfig({})
    assert parse("/settings LANG=fi voice=auto files=json,txt task=translate") == ChatConfig(
        {"language": "fi", "voice": "auto", "files": ("txt", "json"), "task": "translate"}
    )
    assert parse("/settings files=") == ChatConfig({"files": ()}), "no files: the text alone"
    for bad, word in (("/settings lang=svenska", "lang= takes a language code"), ("/settings voice=yes", "voice=yes"),
                      ("/settings files=pdf", "files=pdf"), ("/settings fi", "key=value"),
                      ("/settings colour=red", "colour=red")):
        with pytest.raises(BadCommand, match=word):
            parse(bad)


def test_defaults_differ_between_a_private_chat_and_a_group(connection):
    store = ChatSettingsStore(connection)
    assert store.get(GROUP) == ChatSettings()
    assert not ChatSettings().transcribes_voice(private=False) and ChatSettings().transcribes_voice(private=True)
    assert ChatSettings(voice="off").transcribes_voice(private=True) is False
    changed = store.change(GROUP, language="fi", files=("srt",))
    assert changed == ChatSettings(language="fi", files=("srt",))
    assert store.get(PRIVATE) == ChatSettings(), "each chat its own"


def test_a_chat_setting_fills_what_a_command_leaves_open_and_only_admins_change_them(connection):
    links = LinkPolicy(frozenset({"youtu.be"}))
    commands = Commands(JobQueue(connection), links, resolve=lambda host, port: ["8.8.8.8"])  # a public address
    assert "lang=sv task=transcribe voice=off files=txt,srt,vtt" in commands.handle("/settings", GROUP).text
    assert commands.handle("/settings lang=fi", GROUP, chat_admin=False).text == (
        "In a group only its admins change the settings; ask one of them.")
    changed = commands.handle("/settings lang=fi files=txt,json", GROUP).text
    assert changed == "Settings here are now: lang=fi task=transcribe voice=off files=txt,json."
    commands.handle("/transcribe https://youtu.be/dQw4w9WgXcQ", GROUP)
    commands.handle("/transcribe https://youtu.be/dQw4w9WgXcQ lang=en", GROUP)
    commands.transcribe_upload(None, GROUP, b"audio", "note.ogg")
    requests = [job.args[0] for job in JobQueue(connection).queue(TRANSCRIBE).jobs]
    assert [(r["language"], r["files"], r["task"]) for r in requests] == [
        ("fi", ["txt", "json"], "transcribe"), ("en", ["txt", "json"], "transcribe"),
        ("fi", ["txt", "json"], "transcribe")]


@pytest.mark.slow
def test_a_json_transcript_has_segments_and_word_times(connection, media_server, tiny_models, tmp_path: Path):
    """A request whose chat chose files=json gets that one file, in Whisper's JSON form, and no other."""
    install_runtime(tiny_models["ctranslate2"], "ctranslate2", tmp_path / "models", max_chunk_s=8)
    reply = ReplyTo("console-json", "console")
    request = TranscriptionRequest(
        task="transcribe", reply=reply, source_id="url:json-test", url=f"{media_server}/swedish.mp4", files=("json",)
    )
    job_id = JobQueue(connection).enqueue(TRANSCRIBE, "workers.speech.job.run", request.to_dict(), timeout=600).job_id
    serve_speech(connection)
    messages = [message for _, message in OutboxReader(connection, "console-json").read(block_ms=10, count=100)]
    [document] = [message for message in messages if message.kind == "document"]
    assert document.filename.endswith("-transcribe-sv.json") and document.final and document.job_id == job_id
    parsed = json.loads(artifacts.load(connection, document.artifact or "") or b"")
    assert parsed["language"] == "sv" and parsed["task"] == "transcribe" and parsed["segments"]
    assert parsed["text"] == " ".join(segment["text"].strip() for segment in parsed["segments"])
    words = [word for segment in parsed["segments"] for word in segment["words"]]
    assert words and all(0 <= w["start"] <= w["end"] and 0 <= w["probability"] <= 1 for w in words)
    [text] = [message for message in messages if message.kind == "text"]
    assert not text.final, "the file ends the job"


@pytest.mark.slow
def test_telegram_group_admin_changes_the_settings_a_member_cannot_and_they_outlive_a_restart(
    telegram_api, start_telegram_bot, connection
):
    group, admin, member = -1002, 7, 8
    telegram_api.admins[group] = {admin}
    bot, _ = start_telegram_bot()
    telegram_api.user_says("/settings lang=fi", chat_id=group, user_id=member)
    [refused] = wait_for(lambda: telegram_api.chat(group))
    assert refused.text == "In a group only its admins change the settings; ask one of them."
    telegram_api.user_says("/settings lang=fi files=srt,json", chat_id=group, user_id=admin)
    wait_for(lambda: len(telegram_api.chat(group)) == 2)
    chosen = "lang=fi task=transcribe voice=off files=srt,json"
    assert telegram_api.chat(group)[1].text == f"Settings here are now: {chosen}."
    assert len(telegram_api.calls_of("getChatMember")) == 2, "asked only for the two changes"
    stop_process(bot)
    start_telegram_bot()
    telegram_api.user_says("/settings", chat_id=group, user_id=member)  # showing them is for everyone
    wait_for(lambda: len(telegram_api.chat(group)) == 3)
    assert telegram_api.chat(group)[2].text.startswith(f"Settings here: {chosen}.")
    telegram_api.user_says("/settings voice=auto", chat_id=admin, user_id=admin)  # a private chat: its user
    wait_for(lambda: telegram_api.chat(admin))
    assert telegram_api.chat(admin)[0].text.startswith("Settings here are now: lang=sv")
    assert len(telegram_api.calls_of("getChatMember")) == 2


@pytest.mark.slow
def test_discord_members_with_manage_server_change_the_settings(discord_api, start_discord_bot, connection):
    start_discord_bot()
    asked = discord_api.slash("settings", lang="en")
    wait_for(lambda: discord_api.channel())
    assert discord_api.channel()[0].content == "In a group only its admins change the settings; ask one of them."
    assert asked == discord_api.channel()[0].interaction_id
    discord_api.slash("settings", permissions=MEMBER_PERMISSIONS | MANAGE_GUILD, lang="en", task="translate")
    wait_for(lambda: len(discord_api.channel()) == 2)
    chosen = "lang=en task=translate voice=off files=txt,srt,vtt"
    assert discord_api.channel()[1].content == f"Settings here are now: {chosen}."
    assert ChatSettingsStore(connection).get(ReplyTo("discord", "500")).language == "en"


@pytest.mark.slow
def test_telegram_voice_notes_without_a_caption_follow_the_voice_setting(telegram_api, start_telegram_bot, connection):
    group, admin = -1003, 7
    telegram_api.admins[group] = {admin}
    start_telegram_bot()
    note = b"OggS" + bytes(200)

    def queued() -> int:
        return JobQueue(connection).waiting(TRANSCRIBE)

    telegram_api.user_sends("voice", note, mime_type="audio/ogg", chat_id=group, user_id=admin)
    telegram_api.user_sends("voice", note, mime_type="audio/ogg", caption="/translate", chat_id=group, user_id=admin)
    wait_for(lambda: queued() == 1)
    telegram_api.user_says("/settings voice=auto", chat_id=group, user_id=admin)
    wait_for(lambda: len(telegram_api.chat(group)) == 2)
    telegram_api.user_sends("voice", note, mime_type="audio/ogg", chat_id=group, user_id=admin)
    wait_for(lambda: queued() == 2)
    telegram_api.user_says("/settings voice=off", chat_id=admin, user_id=admin)
    wait_for(lambda: telegram_api.chat(admin))
    telegram_api.user_sends("voice", note, mime_type="audio/ogg", chat_id=admin, user_id=admin)
    telegram_api.user_says("/help", chat_id=admin, user_id=admin)  # answered after the note was looked at
    wait_for(lambda: len(telegram_api.chat(admin)) == 2)
    assert queued() == 2, "the private chat turned voice notes off; the first group note came before voice=auto"
    tasks = [job.args[0]["task"] for job in JobQueue(connection).queue(TRANSCRIBE).jobs]
    assert tasks == ["translate", "transcribe"]
