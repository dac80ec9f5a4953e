"""Hostile links for /transcribe and /translate: every one gets its clear reason and nothing is queued.

Addresses the worker must never fetch from (private, loopback, link-local, cloud metadata,
unspecified, unique-local, and IPv4 hidden in IPv6) are sent by number and by a name that resolves
to them. The policy here allows those names and even 127.0.0.1 (an operator's mistake): the address
check must still refuse them. Names resolve through a table (no network); numbers and ``localhost``
through the system's own resolver, which needs no network for them.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import Commands
from common.errors import VideoRejected
from common.jobs import ReplyTo
from common.queues import TRANSCRIBE, JobQueue
from common.settings import YOUTUBE_HOSTS
from common.video_links import LinkPolicy, resolve_addresses, validate_link

VIDEO = "dQw4w9WgXcQ"
PUBLIC_POOL = frozenset({"142.250.74.110", "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"})
FORBIDDEN = [
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.0.1",
    "192.168.255.254",
    "127.0.0.1",
    "127.0.0.2",
    "127.255.255.254",
    "::1",
    "169.254.0.1",
    "169.254.169.254",  # the cloud metadata service
    "fe80::1",
    "0.0.0.0",
    "::",
    "fd00::1",
    "fc00::1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "100.64.0.1",
    "100.100.100.200",  # Alibaba Cloud metadata (shared address space)
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "::7f00:1",  # IPv4-compatible 127.0.0.1
    "224.0.0.1",
    "ff02::1",
    "255.255.255.255",
    "198.18.0.1",
    "240.0.0.1",
    "192.0.2.1",
    "192.0.0.192",  # Oracle Cloud's metadata: "global" to ipaddress on Python 3.11.7
    "100.127.255.254",  # the end of 100.64.0.0/10
    "198.19.255.254",  # the end of 198.18.0.0/15 (benchmarking)
    "fec0::1",  # site-local, deprecated
    "64:ff9b:1::a00:1",  # local-use NAT64 of 10.0.0.1
    "64:ff9b:1::5db8:d822",  # local-use NAT64, even of a public address
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2002:c000:c0::",  # 6to4 of 192.0.0.192
    "2001:0:7f00:1::f5ff:fffe",  # Teredo: server 127.0.0.1, client 10.0.0.1 (stored inverted)
    "2001:0:5db8:d822::a2e6:e3b6",  # Teredo, even of public server and client: all of 2001::/32
]
NAMES: dict[str, list[str]] = {
    "media.example.org": ["93.184.216.34"],
    "cdn.example.net": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "metadata.google.internal": ["169.254.169.254"],
    "intranet.example.org": ["10.1.2.3"],
    "mixed.example.org": ["93.184.216.34", "10.0.0.1"],  # one bad address is enough to refuse
    "gone.example.org": [],
    "localhost": ["127.0.0.1", "::1"],  # for the property test; the corpus uses the real resolver
    **{f"a{index}.rebind.example": [address] for index, address in enumerate(FORBIDDEN)},
    **{host: ["142.250.74.110"] for host in YOUTUBE_HOSTS.split(",")},
}
ALLOWED = frozenset(NAMES) | {"127.0.0.1", "93.184.216.34", "10.0.0.1"}
POLICY = LinkPolicy(ALLOWED)


def resolve(host: str, port: int) -> list[str]:
    """The table for names; the system resolver, numbers only, otherwise: offline and deterministic."""
    if host in NAMES:
        return NAMES[host]
    try:
        infos = socket.getaddrinfo(host, port, flags=socket.AI_NUMERICHOST, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        return []
    return [str(info[4][0]) for info in infos]


def real_localhost(host: str, port: int) -> list[str]:
    return resolve_addresses(host, port) if host == "localhost" else resolve(host, port)


NOT_ALLOWED = "I only take videos from these sites"
PRIVATE = "That link points to a private network address"
SCHEME = "Only http:// and https:// links work"
NOT_LINK = "That is not a link to a video"
CREDENTIALS = "user name or password"
MALFORMED = "malformed address"
PLAYLIST = "That is a playlist"
NO_VIDEO = "names no video"
LIVE = "live stream"
TOO_LONG = "characters long"
ONE_LINK = "takes one video link"
UNRESOLVED = "The server cannot reach the site"


def bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def addresses() -> list[tuple[str, str]]:
    cases = []
    for index, address in enumerate(FORBIDDEN):
        # By number: not an allowed host, except 127.0.0.1 and 10.0.0.1: allowed, yet not public.
        by_number = PRIVATE if address in ALLOWED else NOT_ALLOWED
        cases.append((f"http://{bracketed(address)}/v.mp4", by_number))
        cases.append((f"https://a{index}.rebind.example/watch.mp4", PRIVATE))
    return cases


LOOPBACK_FORMS = [
    ("http://127.0.0.1:6379/", PRIVATE),  # Redis itself
    ("http://127.0.0.1./v.mp4", PRIVATE),
    ("http://127.1/v.mp4", NOT_ALLOWED),
    ("http://127.0.1/v.mp4", NOT_ALLOWED),
    ("http://2130706433/v.mp4", NOT_ALLOWED),
    ("http://0x7f000001/v.mp4", NOT_ALLOWED),
    ("http://0x7f.0.0.1/v.mp4", NOT_ALLOWED),
    ("http://0177.0.0.1/v.mp4", NOT_ALLOWED),
    ("http://017700000001/v.mp4", NOT_ALLOWED),
    ("http://127.000.000.001/v.mp4", NOT_ALLOWED),
    ("http://[::ffff:7f00:1]/v.mp4", NOT_ALLOWED),
    ("http://[0:0:0:0:0:ffff:127.0.0.1]/v.mp4", NOT_ALLOWED),
    ("http://[0:0:0:0:0:0:0:1]/v.mp4", NOT_ALLOWED),
    ("http://localhost/v.mp4", PRIVATE),
    ("http://LOCALHOST:8080/v.mp4", PRIVATE),
    ("http://localhost./v.mp4", PRIVATE),
    ("http://sub.localhost/v.mp4", NOT_ALLOWED),
    ("http://0/v.mp4", NOT_ALLOWED),
    ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", NOT_ALLOWED),
    ("http://metadata.google.internal/computeMetadata/v1/", PRIVATE),
    ("http://metadata/computeMetadata/v1/", NOT_ALLOWED),
    ("http://intranet.example.org/v.mp4", PRIVATE),
    ("http://mixed.example.org/v.mp4", PRIVATE),
    ("http://10.0.0.1:8080/admin", PRIVATE),
    ("http://gone.example.org/v.mp4", UNRESOLVED),
]
SCHEMES = [
    ("file:///etc/passwd", SCHEME),
    ("file://localhost/etc/passwd", SCHEME),
    ("FILE:///C:/Windows/win.ini", SCHEME),
    ("ftp://media.example.org/v.mp4", SCHEME),
    ("ftps://media.example.org/v.mp4", SCHEME),
    ("gopher://127.0.0.1:6379/_FLUSHALL", SCHEME),
    ("dict://127.0.0.1:11211/stats", SCHEME),
    ("ldap://127.0.0.1/", SCHEME),
    ("sftp://media.example.org/v.mp4", SCHEME),
    ("ssh://media.example.org/", SCHEME),
    ("telnet://127.0.0.1:23/", SCHEME),
    ("ws://media.example.org/live", SCHEME),
    ("wss://media.example.org/live", SCHEME),
    ("rtmp://media.example.org/live/stream", SCHEME),
    ("rtsp://media.example.org/stream", SCHEME),
    ("smb://10.0.0.1/share/v.mp4", SCHEME),
    ("jar:http://media.example.org/a.jar!/", SCHEME),
    ("view-source:https://www.youtube.com/", SCHEME),
    ("blob:https://www.youtube.com/0f4b7c", SCHEME),
    ("data://text/plain;base64,SGVsbG8=", SCHEME),
    ("javascript://%0aalert(1)", SCHEME),
    ("hxxps://www.youtube.com/watch?v=" + VIDEO, SCHEME),
    ("data:text/html,<script>alert(1)</script>", NOT_LINK),
    ("data:video/mp4;base64,AAAA", NOT_LINK),
    ("javascript:alert(1)", NOT_LINK),
    ("vbscript:msgbox(1)", NOT_LINK),
    ("about:blank", NOT_LINK),
    ("mailto:a@example.org", NOT_LINK),
    ("www.youtube.com/watch?v=" + VIDEO, NOT_LINK),
    ("youtu.be/" + VIDEO, NOT_LINK),
    ("//www.youtube.com/watch?v=" + VIDEO, NOT_LINK),
    ("https:/www.youtube.com/watch?v=" + VIDEO, NOT_LINK),
    ("https:www.youtube.com/watch?v=" + VIDEO, NOT_LINK),
    ("http//www.youtube.com/watch?v=" + VIDEO, NOT_LINK),
    ("https://", NOT_LINK),
    ("http:///etc/passwd", NOT_LINK),
    ("https://?v=" + VIDEO, NOT_LINK),
]
CREDENTIAL_FORMS = [
    (f"https://user:pass@www.youtube.com/watch?v={VIDEO}", CREDENTIALS),
    (f"https://user@www.youtube.com/watch?v={VIDEO}", CREDENTIALS),
    (f"https://:@www.youtube.com/watch?v={VIDEO}", CREDENTIALS),
    (f"https://@www.youtube.com/watch?v={VIDEO}", CREDENTIALS),
    ("https://www.youtube.com@evil.example/v.mp4", CREDENTIALS),
    ("https://www.youtube.com:443@evil.example/v.mp4", CREDENTIALS),
    ("https://www.youtube.com\\@evil.example/v.mp4", CREDENTIALS),
    ("http://media.example.org@127.0.0.1/v.mp4", CREDENTIALS),
    ("http://admin:admin@10.0.0.1/", CREDENTIALS),
    ("https://www.youtube.com%40evil.example/v.mp4", NOT_ALLOWED),
    ("https://evil.example#@www.youtube.com/", NOT_ALLOWED),
    ("https://evil.example?@www.youtube.com/", NOT_ALLOWED),
    ("https://www.youtube.com\uff20evil.example/", CREDENTIALS),  # a fullwidth @: the parser's NFKC makes it '@'
    ("https://www.youtube.com\ufe6bevil.example/", CREDENTIALS),  # a small @
]
LOOK_ALIKES = [
    f"https://youtube.com.evil.example/watch?v={VIDEO}",
    f"https://www.youtube.com.evil.example/watch?v={VIDEO}",
    f"https://youtube.com-evil.example/watch?v={VIDEO}",
    f"https://evil-youtube.com/watch?v={VIDEO}",
    f"https://www.youtube.co/watch?v={VIDEO}",
    f"https://wwwyoutube.com/watch?v={VIDEO}",
    f"https://youtu.be.evil.example/{VIDEO}",
    f"https://y\u043eutube.com/watch?v={VIDEO}",  # a Cyrillic o
    f"https://xn--yutube-wqf.com/watch?v={VIDEO}",  # the same, in punycode
    f"https://youtube\u3002com/watch?v={VIDEO}",  # an ideographic full stop
    f"https://www.youtube.com\u3002/watch?v={VIDEO}",
    f"https://youtube.com%2eevil.example/watch?v={VIDEO}",
    f"https://m.youtube.com.\u2024evil.example/watch?v={VIDEO}",
    "https://vimeo.com/76979871",
    "https://www.twitch.tv/somechannel",
]
# The parser turns format characters into spaces: the link falls apart into several arguments.
INVISIBLES = [
    (f"https://www.youtube.com\u200b/watch?v={VIDEO}", ONE_LINK),  # a zero-width space
    (f"https://\u202emoc.ebutuoy.www/watch?v={VIDEO}", ONE_LINK),  # a right-to-left override
    (f"https://www.you\u00adtube.com/watch?v={VIDEO}", ONE_LINK),  # a soft hyphen
    (f"https://www.you\u2066tube.com/watch?v={VIDEO}", ONE_LINK),  # a left-to-right isolate
    (f"https://www.youtube.com/watch?v={VIDEO} https://youtu.be/{VIDEO}", ONE_LINK),
]
MALFORMED_FORMS = [
    ("http://[::1/v.mp4", MALFORMED),
    ("http://a]b/v.mp4", MALFORMED),
    ("http://[::1]x/v.mp4", NOT_ALLOWED),
    (f"https://www.youtube.com:99999/watch?v={VIDEO}", MALFORMED),
    (f"https://www.youtube.com:-1/watch?v={VIDEO}", MALFORMED),
    (f"https://www.youtube.com:8o8o/watch?v={VIDEO}", MALFORMED),
    ("http://[127.0.0.1]/v.mp4", MALFORMED),
    ("http://[fe80::1%25eth0]/v.mp4", NOT_ALLOWED),
]
YOUTUBE_PAGES = [
    ("https://www.youtube.com/playlist?list=PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf", PLAYLIST),
    ("https://www.youtube.com/watch?list=PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf", PLAYLIST),
    ("https://www.youtube.com/watch?list=PL1&index=2", PLAYLIST),
    ("https://youtu.be/?list=PL1", PLAYLIST),
    ("https://m.youtube.com/playlist?list=PL1", PLAYLIST),
    ("https://music.youtube.com/playlist?list=RDCLAK5uy_k", PLAYLIST),
    ("https://www.youtube.com/watch?v=short&list=PL1", PLAYLIST),
    ("https://www.youtube.com/embed/videoseries?list=PL1", PLAYLIST),
    ("https://m.youtube.com/embed/videoseries?list=PL1", PLAYLIST),
    ("https://www.youtube.com/embed/live_stream?channel=UC4R8DWoMoI7CAwX8_LjQHig", LIVE),
    ("https://www.youtube.com/@somechannel", NO_VIDEO),
    ("https://www.youtube.com/@somechannel/videos", NO_VIDEO),
    ("https://www.youtube.com/@somechannel/live", NO_VIDEO),
    ("https://www.youtube.com/channel/UC4R8DWoMoI7CAwX8_LjQHig", NO_VIDEO),
    ("https://www.youtube.com/channel/UC4R8DWoMoI7CAwX8_LjQHig/live", NO_VIDEO),
    ("https://www.youtube.com/c/somechannel", NO_VIDEO),
    ("https://www.youtube.com/user/someone", NO_VIDEO),
    ("https://www.youtube.com/feed/trending", NO_VIDEO),
    ("https://www.youtube.com/results?search_query=cats", NO_VIDEO),
    ("https://www.youtube.com/", NO_VIDEO),
    ("https://youtube.com", NO_VIDEO),
    ("https://www.youtube.com/live/", NO_VIDEO),
    ("https://www.youtube.com/live/somechannelname", NO_VIDEO),
    ("https://www.youtube.com/shorts/", NO_VIDEO),
    ("https://www.youtube.com/watch?v=", NO_VIDEO),
    ("https://www.youtube.com/watch?v=dQw4w9WgXc", NO_VIDEO),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQQ", NO_VIDEO),
    ("https://www.youtube.com/watch?v=dQw4w9WgXc%21", NO_VIDEO),
    ("https://youtu.be/", NO_VIDEO),
    ("https://youtu.be/dQw4w9WgXc$", NO_VIDEO),
]
OVERLONG = [
    ("https://www.youtube.com/watch?v=" + "A" * 2000, TOO_LONG),
    ("https://" + "a" * 1500 + ".example/v.mp4", TOO_LONG),
    (f"https://www.youtube.com/watch?v={VIDEO}&t=" + "9" * 1200, TOO_LONG),
    ("https://www.youtube.com/watch?v=" + "A" * 900, NO_VIDEO),
    ("https://" + "a" * 63 + "." + "b" * 63 + ".example/v.mp4", NOT_ALLOWED),
    ("https://" + "a." * 400 + "example/v.mp4", NOT_ALLOWED),
]


def corpus() -> list[tuple[str, str]]:
    links = addresses() + LOOPBACK_FORMS + SCHEMES + CREDENTIAL_FORMS + [(link, NOT_ALLOWED) for link in LOOK_ALIKES]
    links += INVISIBLES + MALFORMED_FORMS + YOUTUBE_PAGES + OVERLONG
    commands = [
        (f"/{'translate' if index % 3 == 0 else 'transcribe'} {link}", reply)
        for index, (link, reply) in enumerate(links)
    ]
    commands += [
        (f"/transcribe <{link}>", reply)
        for link, reply in LOOPBACK_FORMS[:6]  # Discord's <link> form
    ]
    commands += [(f"/translate {link} lang=en", reply) for link, reply in addresses()[:6]]
    return commands


CORPUS = corpus()


REASONS = [NOT_ALLOWED, PRIVATE, SCHEME, NOT_LINK, CREDENTIALS, MALFORMED, PLAYLIST, NO_VIDEO, LIVE, TOO_LONG, ONE_LINK]


def test_the_link_corpus_draws_every_reason_from_both_commands(connection):
    """Every reason the link checks give is the answer to some entry, of /transcribe and of /translate alike."""
    commands = Commands(JobQueue(connection), POLICY, resolve=real_localhost)
    given: dict[str, set[str]] = {reason: set() for reason in REASONS}
    for text, _ in CORPUS:
        answer = commands.handle(text, ReplyTo("console-hostile", "chat")).text
        for reason in REASONS:
            if reason in answer:
                given[reason].add(text.split()[0])
    assert [reason for reason, where in given.items() if not where] == []
    assert set.union(*given.values()) == {"/transcribe", "/translate"}


@pytest.mark.parametrize(("text", "reply"), CORPUS, ids=[f"{i:03d}" for i in range(len(CORPUS))])
def test_every_hostile_link_gets_its_reason_and_nothing_is_queued(connection, text, reply):
    commands = Commands(JobQueue(connection), POLICY, resolve=real_localhost)
    answer = commands.handle(text, ReplyTo("console-hostile", "chat"))
    assert answer.job_id is None
    assert reply in answer.text, (text[:120], answer.text)
    assert len(answer.text) < 1500
    assert answer.text.isprintable(), "look-alike and control characters are shown escaped"
    assert JobQueue(connection).waiting(TRANSCRIBE) == 0


def test_the_policy_still_takes_good_links(connection):
    """The control: the same policy and resolver queue plain links, or the corpus would prove nothing."""
    commands = Commands(JobQueue(connection), POLICY, resolve=real_localhost)
    reply = ReplyTo("console-hostile", "chat")
    for text in (
        f"/transcribe https://youtu.be/{VIDEO}",
        f"/translate https://www.youtube.com/watch?v={VIDEO}&list=PL1 lang=en",
        "/transcribe https://media.example.org/talks/v.mp4",
        "/transcribe <https://cdn.example.net:8443/v.webm>",
        "/transcribe http://93.184.216.34/v.mp4",
    ):
        assert commands.handle(text, reply).job_id, text
    # Fullwidth forms are the real host once the parser's NFKC has run: the worker gets the canonical URL.
    for text in (
        f"/transcribe https://youtube\uff0ecom/watch?v={VIDEO}",
        f"/transcribe https://\uff59\uff4f\uff55\uff54\uff55\uff42\uff45.com/watch?v={VIDEO}",
    ):
        job = JobQueue(connection).fetch(commands.handle(text, reply).job_id or "")
        assert job is not None and job.args[0]["url"] == f"https://www.youtube.com/watch?v={VIDEO}"
    assert JobQueue(connection).waiting(TRANSCRIBE) == 7


# The property tests: generated links, with hosts from the policy, from the forbidden list, and random.
HOSTS = st.one_of(
    st.sampled_from(sorted(ALLOWED)),
    st.sampled_from(["media.example.org", "cdn.example.net", "www.youtube.com", "youtu.be", "93.184.216.34"]),
    st.sampled_from(FORBIDDEN).map(bracketed),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
    st.from_regex(r"[a-z0-9-]{1,12}(\.[a-z0-9-]{1,10}){0,3}\.?", fullmatch=True),
    st.text(st.characters(blacklist_categories=("Zs", "Cc", "Zl", "Zp")), min_size=1, max_size=20),
)
URLS = st.builds(
    lambda scheme, userinfo, host, port, path: f"{scheme}{userinfo}{host}{port}{path}",
    st.sampled_from(["http://", "https://"] * 4 + ["HTTPS://", "ftp://", "file://", "gopher://", "//", "", "data:"]),
    st.sampled_from([""] * 9 + ["user:pw@", "@", "a@", ":@"]),
    HOSTS,
    st.one_of(st.just(""), st.integers(0, 70000).map(lambda port: f":{port}")),
    st.one_of(
        st.sampled_from(["", "/", "/v.mp4", f"/watch?v={VIDEO}", f"/{VIDEO}", "/playlist?list=PL1", "/@c", "#x"]),
        st.from_regex(r"/[A-Za-z0-9._~%!$&'()*+,;=:@/?-]{0,40}", fullmatch=True),
    ),
)


def permitted(host: str) -> bool:
    addresses = resolve(host, 443)
    return bool(addresses) and all(address in PUBLIC_POOL for address in addresses)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["transcribe", "translate"]), URLS)
def test_a_generated_link_is_queued_only_for_an_allowed_host_at_public_addresses(connection, task, url):
    queue = JobQueue(connection)
    before = queue.waiting(TRANSCRIBE)
    answer = Commands(queue, POLICY, resolve=resolve).handle(f"/{task} {url}", ReplyTo("console-hypo", "chat"))
    assert answer.text
    if answer.job_id is None:
        assert queue.waiting(TRANSCRIBE) == before
        return
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    assert parts.scheme.lower() in {"http", "https"}, url
    assert "@" not in parts.netloc, url
    assert host in ALLOWED, url
    assert permitted(host), url
    job = queue.fetch(answer.job_id)
    assert job is not None
    assert urlsplit(job.args[0]["url"]).scheme in {"http", "https"}
    job.cancel()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(sorted(host for host in ALLOWED if permitted(host) and "youtu" not in host)),
    st.one_of(st.just(""), st.integers(1, 65535).map(lambda port: f":{port}")),
    st.from_regex(r"/[A-Za-z0-9._~-]{1,30}", fullmatch=True),
)
def test_a_plain_link_to_an_allowed_public_host_is_queued(connection, host, port, path):
    """The other direction, so that refusing everything would fail: such links are all queued."""
    url = f"https://{host}{port}{path}"
    answer = Commands(JobQueue(connection), POLICY, resolve=resolve).handle(f"/transcribe {url}", ReplyTo("c", "c"))
    assert answer.job_id, (url, answer.text)
    job = JobQueue(connection).fetch(answer.job_id)
    assert job is not None and job.args[0]["url"] == url
    job.cancel()


def test_every_forbidden_address_is_refused_even_where_the_standard_library_calls_it_global():
    """ipaddress calls multicast, IPv4 inside 6to4 and NAT64, and (by Python version) 192.0.0.192,
    fec0::/10 and 64:ff9b:1::/48 'global': the policy's own tables refuse them on every Python."""
    global_to_ipaddress = [address for address in FORBIDDEN if ipaddress.ip_address(address).is_global]
    assert {"2002:7f00:1::", "64:ff9b::a9fe:a9fe", "224.0.0.1", "ff02::1"} <= set(global_to_ipaddress)
    policy = LinkPolicy(frozenset({"x.example"}))
    for address in FORBIDDEN:
        with pytest.raises(VideoRejected, match="private network address"):
            validate_link("https://x.example/v.mp4", policy, lambda host, port, a=address: [a])
    assert validate_link("https://x.example/v.mp4", policy, lambda host, port: sorted(PUBLIC_POOL)).url
