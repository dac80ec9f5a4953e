"""common/video_links.py to the letter: each refusal's exact reply, the edges of every bound, the port
the resolver is asked about, and the worker's own check of every address it connects to.

The corpus tests (test_hostile_links.py) check that each hostile link gets its reason; these pin
the words, numbers and defaults that mutation testing showed a reason-only check lets change.
"""

from __future__ import annotations

import hashlib

import pytest

from common.errors import VideoRejected
from common.video_links import EXAMPLE, LinkPolicy, check_address, resolve_addresses, validate_link

WATCH = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
POLICY = LinkPolicy(frozenset({"www.youtube.com", "youtu.be", "media.box"}))
PUBLIC = "93.184.216.34"
SITES = "I only take videos from these sites: media.box, www.youtube.com, youtu.be"


class Recorder:
    """A resolver that answers one public address and remembers each (host, port) it was asked."""

    def __init__(self, address: str = PUBLIC) -> None:
        self.asked: list[tuple[str, int]] = []
        self.address = address

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return [self.address]


def refusal(text: str, policy: LinkPolicy = POLICY, resolve: Recorder | None = None) -> str:
    with pytest.raises(VideoRejected) as raised:
        validate_link(text, policy, resolve or Recorder())
    return str(raised.value)


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("https://youtu.be/" + "a" * 1990, "That link is over 2000 characters long; send a shorter one."),
        ("abcdefghijklmnop://x", f"Only http:// and https:// links work, not abcdefghij://. Example: {EXAMPLE}"),
        ("www.youtube.com/watch?v=dQw4w9WgXcQ", f"That is not a link to a video. Send it like this: {EXAMPLE}"),
        ("https://[::1/x", f"That link has a malformed address. Example: {EXAMPLE}"),
        ("https://www.youtube.com:99999/watch?v=dQw4w9WgXcQ", f"That link has a malformed address. Example: {EXAMPLE}"),
        ("https://ada@youtu.be/dQw4w9WgXcQ", "Links with a user name or password in them are not taken."),
        ("https://vimeo.com/1", f"{SITES} (not vimeo.com)."),
        ("http://:80/x", f"{SITES} (not that)."),
        ("https://" + "a" * 70 + ".com/", f"{SITES} (not {'a' * 60})."),
        ("https://www.youtube.com/playlist", "That is a playlist; send a link to one video of it."),
        ("https://www.youtube.com/playlist/PL1", "That is a playlist; send a link to one video of it."),
        ("https://www.youtube.com/embed/videoseries", "That is a playlist; send a link to one video of it."),
        (
            "https://www.youtube.com/embed/live_stream?channel=UC1",
            "That is a channel's live stream; send a link to a video once the stream has ended.",
        ),
        (
            "https://www.youtube.com/@channel",
            f"That YouTube link names no video (channels and pages are not taken). Example: {EXAMPLE}",
        ),
    ],
)
def test_each_refusal_says_exactly_why(text, reply):
    assert refusal(text) == reply


def test_a_policy_that_allows_no_site_says_so():
    assert refusal("https://vimeo.com/1", LinkPolicy(frozenset())) == (
        "I only take videos from these sites: none (not vimeo.com)."
    )


def test_a_name_that_does_not_resolve_is_blamed_on_neither_link_nor_user():
    with pytest.raises(VideoRejected) as raised:
        validate_link(WATCH, POLICY, lambda host, port: [])
    assert str(raised.value) == (
        "The server cannot reach the site www.youtube.com right now (its name does not resolve here); "
        "if the link is right, try again later."
    )


def test_a_link_of_2000_characters_is_read():
    text = "https://media.box/" + "a" * (2000 - len("https://media.box/"))
    assert len(text) == 2000
    assert validate_link(text, POLICY, Recorder()).url == text


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        (WATCH, ("www.youtube.com", 443)),
        ("HTTPS://WWW.YouTube.com./watch?v=dQw4w9WgXcQ", ("www.youtube.com", 443)),
        ("http://media.box/a.mp4", ("media.box", 80)),
        ("https://media.box:8443/a.mp4", ("media.box", 8443)),
    ],
)
def test_the_resolver_is_asked_for_the_host_and_port_the_download_will_use(text, asked):
    """Lower case, no trailing dot; 443 for https, 80 for http, or the port the link names."""
    resolve = Recorder()
    validate_link(text, POLICY, resolve)
    assert resolve.asked == [asked]


def test_links_other_than_youtube_keep_their_url_and_hash():
    link = validate_link("https://media.box/talk.mp4#t=10", POLICY, Recorder())
    assert link.url == "https://media.box/talk.mp4"
    assert link.source_id == "url:" + hashlib.sha256(b"https://media.box/talk.mp4").hexdigest()[:20]
    assert link.youtube is False
    assert validate_link(WATCH, POLICY, Recorder()).youtube is True


def test_a_watch_link_with_more_path_still_names_its_video():
    assert validate_link("https://www.youtube.com/watch/x?v=dQw4w9WgXcQ", POLICY, Recorder()).url == WATCH


@pytest.mark.parametrize(
    ("url", "asked"),
    [
        ("https://cdn.example/x", ("cdn.example", 443)),
        ("HTTP://CDN.Example./x", ("cdn.example", 80)),
        ("https://cdn.example:8443/x", ("cdn.example", 8443)),
    ],
)
def test_the_workers_check_asks_for_each_address_it_connects_to(url, asked):
    """Any http(s) host goes (redirects, format files), at public addresses; asked by host and port."""
    resolve = Recorder()
    check_address(url, POLICY, resolve)
    assert resolve.asked == [asked]


@pytest.mark.parametrize(
    ("url", "reply"),
    [
        ("http://[::1/x", "That video points to a malformed address; I did not fetch it."),
        ("http://cdn.example:99999/x", "That video points to a malformed address; I did not fetch it."),
        ("file:///etc/passwd", "That video points to something other than a web address; I did not fetch it."),
        ("ftp://cdn.example/x", "That video points to something other than a web address; I did not fetch it."),
        ("https:///x", "That video points to something other than a web address; I did not fetch it."),
    ],
)
def test_the_workers_check_refuses_what_is_no_web_address(url, reply):
    with pytest.raises(VideoRejected) as raised:
        check_address(url, POLICY, Recorder())
    assert str(raised.value) == reply


def test_the_workers_check_refuses_private_addresses_unless_the_host_may_be_private():
    with pytest.raises(VideoRejected, match="private network address"):
        check_address("https://cdn.example/x", POLICY, Recorder("10.0.0.1"))
    intranet = LinkPolicy(frozenset(), private_hosts=frozenset({"media.lan"}))
    check_address("https://media.lan/x", intranet, Recorder("10.0.0.1"))


def test_names_are_resolved_once_per_address_for_tcp():
    """The system resolver's answer, one entry per address (TCP only, not once per socket type)."""
    assert resolve_addresses("192.0.2.7", 443) == ["192.0.2.7"]
    assert resolve_addresses("no-such-host.invalid", 443) == []
