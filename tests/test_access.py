"""Who may use the bots: ALLOWED_USERS/CHATS, SPEECH_ALLOWED_USERS/CHATS, ADMIN_USERS.

The rules and the refusal's pacing on a real Redis, then through `python -m bot telegram` and
`python -m bot discord` against their emulators: a stranger gets one refusal, then silence (on
Discord, which must answer an interaction, a refusal only the sender sees), and nothing is queued.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bot.access import REFUSE_EVERY_S, Access, AccessRules, NotAllowed
from bot.commands import Commands
from common.jobs import ReplyTo
from common.queues import JobQueue
from tests.conftest import REPO
from tests.emulators.discord_api import USER as DISCORD_USER
from tests.helpers import wait_for

OWNER, FRIEND, STRANGER = "tg:1", "tg:2", "tg:3"
CLASS_GROUP = "tg:-1001"


def telegram(user: str, chat: str) -> ReplyTo:
    return ReplyTo("telegram", chat.removeprefix("tg:"), user=user.removeprefix("tg:"))


def allowed(rules: AccessRules, user: str, chat: str, *, speech: bool = False) -> bool:
    return rules.allows(user, chat, speech=speech)


def test_unset_lists_let_everyone_in():
    assert allowed(AccessRules(), STRANGER, STRANGER, speech=True)


def test_a_user_passes_when_listed_or_in_a_listed_chat():
    rules = AccessRules(users=frozenset({FRIEND}), chats=frozenset({CLASS_GROUP}))
    assert allowed(rules, FRIEND, FRIEND) and allowed(rules, FRIEND, "tg:-999")
    assert allowed(rules, STRANGER, CLASS_GROUP), "anyone in the class's group"
    assert not allowed(rules, STRANGER, STRANGER) and not allowed(rules, STRANGER, "tg:-999")
    assert not allowed(rules, None, "tg:-999"), "a channel post has no user"


def test_speech_lists_narrow_whoever_may_use_the_bot_and_admins_pass_everything():
    rules = AccessRules(
        chats=frozenset({CLASS_GROUP}), speech_users=frozenset({FRIEND}), admins=frozenset({OWNER})
    )
    assert allowed(rules, STRANGER, CLASS_GROUP) and not allowed(rules, STRANGER, CLASS_GROUP, speech=True)
    assert allowed(rules, FRIEND, CLASS_GROUP, speech=True)
    assert not allowed(rules, FRIEND, FRIEND, speech=True), "speech listed, but not let into the bot"
    assert allowed(rules, OWNER, OWNER, speech=True), "the owner, anywhere"
    only_speech = AccessRules(speech_chats=frozenset({CLASS_GROUP}))
    assert allowed(only_speech, STRANGER, STRANGER) and not allowed(only_speech, STRANGER, STRANGER, speech=True)
    assert allowed(only_speech, STRANGER, CLASS_GROUP, speech=True)


def test_one_refusal_per_chat_then_silence_until_it_expires(connection):
    access = Access(connection, AccessRules(users=frozenset({FRIEND})))
    access.check(telegram(FRIEND, FRIEND))
    with pytest.raises(NotAllowed) as first:
        access.check(telegram(STRANGER, STRANGER))
    assert not first.value.quiet and "(your id: tg:3)" in str(first.value)
    with pytest.raises(NotAllowed) as second:
        access.check(telegram(STRANGER, STRANGER))
    assert second.value.quiet
    ttl = connection.ttl("access:refused:telegram:3")
    assert REFUSE_EVERY_S - 5 <= ttl <= REFUSE_EVERY_S
    with pytest.raises(NotAllowed) as elsewhere:
        access.check(telegram(STRANGER, "tg:-5"))
    assert not elsewhere.value.quiet, "each chat is told once"
    access.check(ReplyTo("console-1", "console"))  # the operator's terminal


def test_commands_refuse_before_parsing_and_queue_nothing(connection):
    commands = Commands(JobQueue(connection), access=Access(connection, AccessRules(speech_users=frozenset({FRIEND}))))
    stranger = telegram(STRANGER, STRANGER)
    assert commands.handle("/iris 5.1 3.5 1.4 0.2", stranger).job_id is not None, "predictions are for all"
    refused = commands.handle("/transcribe https://youtu.be/dQw4w9WgXcQ", stranger)
    assert refused.job_id is None and "kept to the people this bot's owner chose" in refused.text
    assert commands.admit(stranger, "transcribe") is not None, "no download of an attachment either"
    assert commands.handle("/transcribe nonsense", stranger).quiet
    assert JobQueue(connection).waiting("transcribe") == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [("ALLOWED_USERS", "123"), ("ADMIN_USERS", "tg:abc"), ("SPEECH_ALLOWED_CHATS", "tg:1,slack:2")],
)
def test_an_id_without_its_platform_stops_the_bot_at_start(process_env, name, value):
    done = subprocess.run([sys.executable, "-m", "bot", "console"], env={**process_env, name: value}, cwd=REPO,
                          input="", capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"{name} has '" in done.stderr and "platform-prefixed id (tg:123" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_telegram_a_stranger_is_refused_once_then_ignored_and_a_listed_chat_is_served(
    telegram_api, start_telegram_bot, connection
):
    start_telegram_bot(ALLOWED_CHATS="tg:-1001", SPEECH_ALLOWED_USERS="tg:7")
    telegram_api.user_says("/iris 5.1 3.5 1.4 0.2", chat_id=333, user_id=9)
    [refusal] = wait_for(lambda: telegram_api.chat(333))
    assert refusal.text == "Sorry, this bot only answers the people its owner let in (your id: tg:9)."
    telegram_api.user_says("/iris 5.1 3.5 1.4 0.2", chat_id=333, user_id=9)
    telegram_api.user_sends("voice", b"OggS" + bytes(100), mime_type="audio/ogg", chat_id=333, user_id=9)
    telegram_api.user_says("/iris 6.7 3.0 5.2 2.3", chat_id=-1001, user_id=9)  # anyone in the listed group
    wait_for(lambda: telegram_api.chat(-1001))
    telegram_api.user_says("/transcribe https://youtu.be/dQw4w9WgXcQ", chat_id=-1001, user_id=9)
    wait_for(lambda: len(telegram_api.chat(-1001)) == 2)
    time.sleep(1)  # what the stranger's second message and voice note would have been answered by
    assert len(telegram_api.chat(333)) == 1, "silence after the first refusal"
    assert not telegram_api.calls_of("getFile"), "the stranger's voice note was not downloaded"
    queued, speech = telegram_api.chat(-1001)
    assert queued.text.startswith(("Queued as job", "Working on it", "Iris:"))
    assert speech.text.startswith("Transcription and translation are kept to")
    assert JobQueue(connection).waiting("predict") == 1 and JobQueue(connection).waiting("transcribe") == 0


@pytest.mark.slow
def test_discord_a_stranger_is_refused_and_then_answered_only_where_they_alone_see_it(
    discord_api, start_discord_bot, connection
):
    start_discord_bot(ALLOWED_USERS="dc:1", ADMIN_USERS="dc:2")
    asked = [discord_api.slash("iris", sepal_length=5.1, sepal_width=3.5, petal_length=1.4, petal_width=0.2)
             for _ in range(2)]
    wait_for(lambda: len(discord_api.channel()) == 2)
    answers = sorted(discord_api.channel(), key=lambda message: message.ephemeral)
    assert sorted(message.interaction_id for message in answers) == sorted(asked)
    told, quiet = answers  # handled side by side: either may be the first
    stranger = f"dc:{DISCORD_USER['id']}"
    assert told.content == f"Sorry, this bot only answers the people its owner let in (your id: {stranger})."
    assert not told.ephemeral and quiet.ephemeral and quiet.content == told.content
    assert JobQueue(connection).waiting("predict") == 0
