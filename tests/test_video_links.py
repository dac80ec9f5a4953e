"""Video links: accepted forms, their normalisation, and every refusal, checked before anything is queued."""

from __future__ import annotations

import pytest

from bot.commands import Commands
from common.errors import VideoRejected
from common.jobs import ReplyTo
from common.queues import JobQueue
from common.settings import YOUTUBE_HOSTS
from common.video_links import LinkPolicy, validate_link

YOUTUBE = LinkPolicy(frozenset(YOUTUBE_HOSTS.split(",")))
WATCH = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def public(host: str, port: int) -> list[str]:
    return ["142.250.74.110"]


@pytest.mark.parametrize(
    "link",
    [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "http://youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
        "https://youtu.be/dQw4w9WgXcQ?si=abc",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RDAMVM",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "https://www.youtube.com/embed/dQw4w9WgXcQ",
        "https://www.youtube.com/live/dQw4w9WgXcQ?feature=share",
        "<https://WWW.YouTube.com./watch?v=dQw4w9WgXcQ>",
    ],
)
def test_youtube_forms_normalise_to_one_video_id(link):
    """Every YouTube form of a video becomes the same canonical URL and cache id."""
    video = validate_link(link, YOUTUBE, public)
    assert video.url == WATCH
    assert video.source_id == "youtube:dQw4w9WgXcQ"
    assert video.youtube


@pytest.mark.parametrize(
    ("link", "reply"),
    [
        ("hello", "not a link"),
        ("www.youtube.com/watch?v=dQw4w9WgXcQ", "not a link"),
        ("ftp://youtube.com/watch?v=dQw4w9WgXcQ", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("https://vimeo.com/12345", "I only take videos from these sites"),
        ("https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ", "I only take videos from these sites"),
        ("https://user:pw@youtube.com/watch?v=dQw4w9WgXcQ", "user name or password"),
        ("https://www.youtube.com/playlist?list=PL123", "playlist"),
        ("https://www.youtube.com/@somechannel", "names no video"),
        ("https://www.youtube.com/watch?v=short", "names no video"),
        ("https://youtube.com:99999/watch?v=dQw4w9WgXcQ", "malformed"),
    ],
)
def test_refusals_are_friendly(link, reply):
    with pytest.raises(VideoRejected, match=reply):
        validate_link(link, YOUTUBE, public)


@pytest.mark.parametrize(
    "address",
    ["10.1.2.3", "127.0.0.1", "169.254.169.254", "192.168.0.1", "::1", "fd00::1", "::ffff:10.0.0.1", "100.64.0.1"],
)
def test_an_allowed_host_resolving_to_a_private_address_is_refused(address):
    """A poisoned or internal DNS answer for an allowed name does not make the worker fetch inside the network."""
    with pytest.raises(VideoRejected, match="private network address"):
        validate_link(WATCH, YOUTUBE, lambda host, port: [address])


def test_real_resolution_of_localhost_is_refused_unless_named_private():
    """With the real resolver: localhost is refused as private, until the operator names it as private."""
    with pytest.raises(VideoRejected, match="private network address"):
        validate_link("http://localhost:8000/a.mp4", LinkPolicy(frozenset({"localhost"})))
    video = validate_link(
        "http://localhost:8000/a.mp4#t=1", LinkPolicy(frozenset(), private_hosts=frozenset({"localhost"}))
    )
    assert video.url == "http://localhost:8000/a.mp4"
    assert video.source_id.startswith("url:")
    assert not video.youtube


def test_an_unresolvable_host_is_refused_without_blaming_the_link():
    """A name that does not resolve here may be our DNS failing: the reply says the server cannot reach it."""
    with pytest.raises(VideoRejected, match=r"The server cannot reach the site www\.youtube\.com right now") as refused:
        validate_link(WATCH, YOUTUBE, lambda host, port: [])
    assert "check the link" not in str(refused.value)


def test_bot_answers_bad_links_and_queues_nothing(connection):
    """The bot validates before queueing: each bad link gets its reason, the transcribe queue stays empty."""
    commands = Commands(JobQueue(connection), YOUTUBE, resolve=public)
    reply = ReplyTo(outbox="console-test", chat="c1")
    answers = [
        commands.handle(text, reply).text
        for text in (
            "/transcribe",
            "/transcribe hello",
            "/translate https://vimeo.com/1",
            "/transcribe ftp://youtu.be/dQw4w9WgXcQ",
            f"/transcribe {WATCH} lang=swedish",
            f"/transcribe {WATCH} {WATCH}",
        )
    ]
    assert "takes one video link" in answers[0]
    assert "not a link" in answers[1]
    assert "I only take videos from these sites" in answers[2]
    assert "Only http:// and https://" in answers[3]
    assert "lang= takes a language code" in answers[4]
    assert "takes one video link" in answers[5]
    assert JobQueue(connection).waiting("transcribe") == 0
    private = Commands(JobQueue(connection), YOUTUBE, resolve=lambda host, port: ["10.0.0.7"])
    assert "private network address" in private.handle(f"/transcribe {WATCH}", reply).text


def test_bot_queues_a_good_link_with_a_long_timeout(connection):
    """A valid link is queued on `transcribe` with the language and a timeout far above RQ's 180 s."""
    commands = Commands(JobQueue(connection), YOUTUBE, resolve=public)
    answer = commands.handle("/translate https://youtu.be/dQw4w9WgXcQ lang=FI", ReplyTo(outbox="console-x", chat="c"))
    assert answer.job_id and "1st in line" in answer.text
    job = JobQueue(connection).fetch(answer.job_id)
    assert job is not None and job.origin == "transcribe" and job.func_name == "workers.speech.job.run"
    assert job.timeout >= 600 + 4 * 1800
    payload = job.args[0]
    assert payload["url"] == WATCH and payload["language"] == "fi" and payload["task"] == "translate"
    assert payload["source_id"] == "youtube:dQw4w9WgXcQ"


def test_video_settings_build_the_policy_and_refuse_a_missing_cookies_file(monkeypatch, tmp_path):
    from common.errors import SettingsError
    from common.settings import Settings

    monkeypatch.setenv("ALLOWED_VIDEO_HOSTS", "youtube.com, Media.Example.org")
    monkeypatch.setenv("PRIVATE_VIDEO_HOSTS", "127.0.0.1")
    monkeypatch.setenv("MAX_VIDEO_SECONDS", "600")
    policy = LinkPolicy.from_settings(Settings().video)
    assert policy == LinkPolicy(frozenset({"youtube.com", "media.example.org"}), frozenset({"127.0.0.1"}), 600)
    monkeypatch.setenv("YTDLP_COOKIES", str(tmp_path / "missing.txt"))
    with pytest.raises(SettingsError, match="YTDLP_COOKIES must name an existing cookies file"):
        Settings()
