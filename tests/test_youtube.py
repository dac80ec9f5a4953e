"""YouTube as it is in 2026: the JavaScript runtime and solver yt-dlp needs, `--check`'s lines for them
and for the cookies file, and every refusal in plain words.

Offline: yt-dlp's own YouTube challenge machinery runs with the worker's options against a small
player of our own (served from 127.0.0.1), the real Deno binary of the ``deno`` package and the real
yt-dlp-ejs scripts. yt-dlp's errors are raised by yt-dlp itself (an extractor of ours calling the same
helpers the YouTube extractor calls, with YouTube's words), or by real failing requests.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yt_dlp_ejs
from yt_dlp import YoutubeDL
from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.extractor.youtube import YoutubeIE
from yt_dlp.extractor.youtube.jsc._director import initialize_jsc_director
from yt_dlp.extractor.youtube.jsc.provider import (
    JsChallengeRequest,
    JsChallengeType,
    NChallengeInput,
    SigChallengeInput,
)
from yt_dlp.utils import DownloadError

from common.errors import VideoRejected
from common.settings import VideoSettings
from tests.conftest import REPO
from tests.test_download_slots import tone
from workers.health import check_cookies, check_youtube
from workers.speech import js_runtime
from workers.speech.download import download_audio
from workers.speech.metadata import YtdlpLog, ytdlp_options
from workers.speech.refusals import YOUTUBE_REFUSED, rejection

DENO_VERSION_LINE = "deno 2.9.8 (stable, release, x86_64-unknown-linux-gnu)"


class Lines:
    """A yt-dlp logger that keeps everything it is told."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def debug(self, message: str) -> None:
        self.lines.append(message)

    info = warning = error = debug

    def having(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]


class Routes(http.server.ThreadingHTTPServer):
    """127.0.0.1: path -> a list of (status, content type, body), one per request (the last repeats)."""

    def __init__(self) -> None:
        self.routes: dict[str, list[tuple[int, str, bytes]]] = {}
        self.seen: list[tuple[str, str]] = []  # (path, User-Agent)
        routes = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                routes.seen.append((path, self.headers.get("User-Agent", "")))
                answers = routes.routes.get(path, [(404, "text/plain", b"not found")])
                status, kind, body = answers.pop(0) if len(answers) > 1 else answers[0]
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server_address[1]}"

    def requests_to(self, path: str) -> int:
        return sum(1 for seen, agent in self.seen if seen == path and "Python-urllib" not in agent)


@pytest.fixture
def routes() -> Iterator[Routes]:
    server = Routes()
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def fake_deno(path: Path, script: str, mode: int = 0o755) -> Path:
    path.write_text(script)
    path.chmod(mode)
    return path


# --- the JavaScript runtime and the solver, as the worker configures yt-dlp ---------------------------


def test_yt_dlp_as_the_worker_configures_it_reports_deno_and_the_solver_scripts(tmp_path):
    """yt-dlp's verbose header and its challenge director name the runtime the worker passed, by path."""
    named = tmp_path / "bin" / "deno"
    named.parent.mkdir()
    named.symlink_to(js_runtime.deno_path())  # a path yt-dlp could not find by itself (not on PATH)
    runtime = js_runtime.probe_deno(named)
    options = ytdlp_options(youtube=True, cookies=None, js_runtime=runtime)
    assert options["js_runtimes"] == {"deno": {"path": str(named)}}
    said = Lines()
    with YoutubeDL(options | {"verbose": True, "logger": said, "cachedir": False}) as ydl:
        ydl.print_debug_header()
        initialize_jsc_director(ydl.get_info_extractor("Youtube"))
    assert said.having(f"JS runtimes: deno-{runtime.version}"), said.lines
    assert said.having(f"yt_dlp_ejs-{yt_dlp_ejs.version}"), "the solver scripts' package is found"
    providers = said.having("JS Challenge Providers:")[0]
    assert "deno" in providers and "deno (unavailable)" not in providers, providers
    assert ydl._js_runtimes["deno"].info.path == str(named)


def test_yt_dlp_solves_a_players_challenges_with_deno_offline(routes):
    """The YouTube extractor's own challenge director downloads a player and solves its n and signature
    challenges with Deno and the yt-dlp-ejs scripts of the python package."""
    player = "/s/player/0123abcd/player_ias.vflset/en_US/base.js"
    routes.routes[player] = [(200, "text/javascript", js_runtime.TEST_PLAYER.encode())]
    said = Lines()
    options = ytdlp_options(youtube=True, cookies=None, js_runtime=js_runtime.probe_deno())
    with YoutubeDL(options | {"verbose": True, "logger": said, "cachedir": False}) as ydl:
        director = initialize_jsc_director(ydl.get_info_extractor("Youtube"))
        solved = director.bulk_solve(
            [
                JsChallengeRequest(JsChallengeType.N, NChallengeInput(routes.base + player, ["abcdef", "xyz"]), "v"),
                JsChallengeRequest(JsChallengeType.SIG, SigChallengeInput(routes.base + player, ["0123456789"]), "v"),
            ]
        )
    results = {request.type: response.output.results for request, response in solved}
    assert results == {
        JsChallengeType.N: {"abcdef": "fedcba-ok", "xyz": "zyx-ok"},
        JsChallengeType.SIG: {"0123456789": "9876543210"},
    }
    assert routes.requests_to(player) == 1
    assert said.having(f"Using challenge solver lib script v{yt_dlp_ejs.version} (source: python package")


def test_check_names_the_runtime_and_solver_that_work():
    checks = check_youtube(VideoSettings(YTDLP_COOKIES=None))
    by_name = {check.name: check for check in checks}
    assert set(by_name) == {"javascript runtime", "challenge solver", "po tokens"}
    assert all(check.ok for check in checks), checks
    runtime = js_runtime.probe_deno()
    assert by_name["javascript runtime"].detail.startswith(f"deno {runtime.version} at {js_runtime.deno_path()}")
    assert by_name["challenge solver"].detail.startswith(f"yt-dlp-ejs {yt_dlp_ejs.version}: solved a test challenge")
    assert by_name["po tokens"].detail.startswith("no provider plugin (optional"), "none is installed here"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p / "no-such-deno", "Deno is missing at"),
        (lambda p: fake_deno(p / "deno", f"#!/bin/sh\necho '{DENO_VERSION_LINE}'\n", 0o644), "is not executable"),
        (lambda p: _corrupt(p / "deno"), "does not run (Exec format error)"),
        (lambda p: fake_deno(p / "deno", "#!/bin/sh\necho hello\n"), "does not answer like Deno (exit 0: hello)"),
        (lambda p: fake_deno(p / "deno", "#!/bin/sh\necho 'deno 1.46.3 (stable)'\n"), "is older than 2.3.0"),
    ],
    ids=["missing", "not-executable", "corrupt", "not-deno", "too-old"],
)
def test_a_missing_or_broken_deno_fails_the_check_naming_the_fix(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(js_runtime.JsRuntimeError, match=re.escape(reason)) as broken:
        js_runtime.probe_deno(path)
    assert str(path) in str(broken.value) and "pip install" in str(broken.value)
    runtime_line, solver_line, po_tokens = check_youtube(VideoSettings(YTDLP_COOKIES=None), deno=path)
    assert po_tokens.ok, "PO tokens are optional"
    assert not runtime_line.ok and reason in runtime_line.detail
    assert not solver_line.ok and "cannot run without a JavaScript runtime" in solver_line.detail


def test_a_deno_that_hangs_is_given_up_on_after_the_timeout(tmp_path):
    path = fake_deno(tmp_path / "deno", "#!/bin/sh\nexec sleep 30\n")
    started = time.monotonic()
    with pytest.raises(js_runtime.JsRuntimeError, match=r"did not answer `--version` within 0.5 s"):
        js_runtime.probe_deno(path, timeout_s=0.5)
    assert time.monotonic() - started < 3


def test_a_solver_that_fails_fails_the_check_with_yt_dlps_reason(tmp_path):
    """A Deno that answers --version but cannot run scripts: the runtime line passes, the solver's fails."""
    script = (
        f"#!/bin/sh\nif [ \"$1\" = --version ]; then echo '{DENO_VERSION_LINE}'; exit 0; fi\n"
        "echo 'error: cannot load the solver' >&2; exit 1\n"
    )
    path = fake_deno(tmp_path / "deno", script)
    runtime_line, solver_line, _ = check_youtube(VideoSettings(YTDLP_COOKIES=None), deno=path)
    assert runtime_line.ok and runtime_line.detail.startswith(f"deno 2.9.8 at {path}")
    assert not solver_line.ok
    assert "could not solve a test challenge" in solver_line.detail
    assert "error: cannot load the solver" in solver_line.detail, "yt-dlp's own reason is shown"


def test_a_youtube_job_with_a_broken_deno_is_refused_in_one_sentence(tmp_path, caplog):
    path = _corrupt(tmp_path / "deno")
    with caplog.at_level(logging.ERROR), pytest.raises(VideoRejected) as refused:
        js_runtime.runtime_for_jobs(path)
    assert str(refused.value) == (
        "This server is missing a part it needs for YouTube right now; try again later or send the file."
    )
    assert any(str(path) in record.getMessage() and "--check" in record.getMessage() for record in caplog.records)
    assert js_runtime.runtime_for_jobs(js_runtime.deno_path()).name == "deno", "a working one is handed out"


def _corrupt(path: Path) -> Path:
    path.write_bytes(b"\x7fELF" + os.urandom(2048))
    path.chmod(0o755)
    return path


# --- the cookies file ----------------------------------------------------------------------------------


def cookies_file(path: Path, *rows: tuple[str, int]) -> Path:
    lines = ["# Netscape HTTP Cookie File"]
    for i, (domain, expires) in enumerate(rows):
        subdomains = "TRUE" if domain.startswith(".") else "FALSE"  # the format ties this flag to the dot
        lines.append(f"{domain}\t{subdomains}\t/\tTRUE\t{expires}\tNAME{i}\tvalue{i}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_check_reads_a_valid_cookies_file_and_warns_of_the_risk(tmp_path):
    future, past = int(time.time()) + 30 * 86400, int(time.time()) - 86400
    path = cookies_file(tmp_path / "c.txt", (".youtube.com", future), (".youtube.com", past), (".google.com", future))
    line = check_cookies(path)
    assert line.ok, line
    assert f"2 youtube.com cookies (valid until {time.strftime('%Y-%m-%d', time.gmtime(future))}, 1 expired)" in (
        line.detail
    )
    assert "throwaway account" in line.detail


@pytest.mark.parametrize(
    ("write", "reason"),
    [
        (lambda p: cookies_file(p, (".youtube.com", 1_600_000_000), ("www.youtube.com", 1_700_000_000)),
         "every youtube.com cookie in {path} has expired (2 in all, the last on 2023-11-14): export fresh ones"),
        (lambda p: cookies_file(p, (".google.com", 4_000_000_000)), "holds no youtube.com cookies"),
        (lambda p: p.write_text('[{"domain": ".youtube.com", "name": "SID"}]') and p,
         "is not a Netscape-format cookies file"),
        (lambda p: p.mkdir() or p, "cannot be read"),
    ],
    ids=["expired", "no-youtube", "json", "unreadable"],
)  # fmt: skip
def test_check_fails_a_cookies_file_yt_dlp_cannot_use(tmp_path, write, reason):
    path = tmp_path / "cookies.txt"
    write(path)
    line = check_cookies(path)
    assert not line.ok
    assert line.name == "YTDLP_COOKIES"
    assert reason.format(path=path) in line.detail, line.detail


def test_workers_check_prints_the_youtube_lines_and_fails_for_expired_cookies(redis_url, tmp_path):
    """`python -m workers --queues transcribe --check`, the real command: exit 1, one FAIL line naming it."""
    (tmp_path / "models").mkdir()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "MODEL_DIR": str(tmp_path / "models"),
        "DATA_DIR": str(tmp_path / "data"),
        "YTDLP_COOKIES": str(cookies_file(tmp_path / "cookies.txt", (".youtube.com", 1_600_000_000))),
    }
    done = subprocess.run(
        [sys.executable, "-m", "workers", "--queues", "transcribe", "--check"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert done.returncode == 1, done.stdout + done.stderr
    assert any(line.startswith("ok    javascript runtime: deno ") for line in lines), lines
    assert any(line.startswith("ok    challenge solver: yt-dlp-ejs ") for line in lines), lines
    assert any(line.startswith("FAIL  YTDLP_COOKIES: every youtube.com cookie in") for line in lines), lines
    assert (
        "ok    youtube downloads: at most 2 at a time over all workers, 0.75 s between requests; 0 taken now" in lines
    )
    assert [line for line in lines if line.startswith("FAIL")] == [next(x for x in lines if "YTDLP_COOKIES" in x)]


# --- refusals in plain words ------------------------------------------------------------------------------


def raised_by_ytdlp(act: Callable[[InfoExtractor, str], object], **params: object) -> DownloadError:
    """The DownloadError yt-dlp raises when an extractor named "youtube" does ``act(extractor, video_id)``."""

    class FakeYoutubeIE(InfoExtractor):
        IE_NAME = "youtube"
        _VALID_URL = r"https?://fake\.test/(?P<id>[\w-]+)"

        def _real_extract(self, url: str) -> dict:
            return act(self, self._match_id(url))  # type: ignore[return-value]

    with YoutubeDL({"quiet": True, "logger": YtdlpLog(), "cachedir": False, **params}, auto_init=False) as ydl:
        ydl.add_info_extractor(FakeYoutubeIE())
        with pytest.raises(DownloadError) as caught:
            ydl.extract_info("https://fake.test/dQw4w9WgXcQ", download=False, ie_key="FakeYoutube")
    return caught.value


def youtube_says(reason: str, *, sign_in_hint: bool = False) -> DownloadError:
    """YouTube's playability reason, raised as the YouTube extractor raises it (raise_no_formats)."""

    def act(extractor: InfoExtractor, video_id: str) -> None:
        text = reason
        if sign_in_hint:  # the YouTube extractor appends its cookies hint to every "sign in" reason
            hint = YoutubeIE(extractor._downloader)._youtube_login_hint
            text = f"{reason.rstrip('.')}. {hint}"
        extractor.raise_no_formats(text, expected=True, video_id=video_id)

    return raised_by_ytdlp(act)


@pytest.mark.parametrize(
    ("reason", "hint", "reply"),
    [
        ("Sign in to confirm you\u2019re not a bot", True, YOUTUBE_REFUSED),
        ("Sign in to confirm you're not a bot", True, YOUTUBE_REFUSED),
        ("This content isn't available, try again later.", False, YOUTUBE_REFUSED),
        ("Sign in to confirm your age. This video may be inappropriate for some users.", True, "age-restricted"),
        ("Join this channel to get access to members-only content like this video, and other exclusive perks.",
         False, "for the channel's members only"),
        ("This video is available to this channel's members on level: Fan (or any higher level).", False,
         "for the channel's members only"),
        ("Private video. Sign in if you've been granted access to this video", True, "That video is private."),
        ("This video has been removed by the uploader", False, "That video has been removed from YouTube."),
        ("Video unavailable. This video is no longer available because the YouTube account associated with this "
         "video has been terminated.", False, "That video has been removed from YouTube."),
        ("Video unavailable", False, "That video is unavailable"),
        ("Premieres in 2 hours", False, "has not started yet"),
        ("This live event will begin in 3 days.", False, "has not started yet"),
        ("This live event has ended.", False, "left no recording"),
        ("This live stream recording is not available.", False, "left no recording"),
    ],
)  # fmt: skip
def test_youtubes_reasons_become_plain_sentences(reason, hint, reply):
    refusal = rejection(youtube_says(reason, sign_in_hint=hint), youtube=True, host="www.youtube.com")
    assert reply in str(refusal)
    assert "--cookies" not in str(refusal) and "yt-dlp" not in str(refusal), "no yt-dlp advice for users"


def test_the_bot_check_tells_the_operator_what_to_configure(caplog):
    exc = youtube_says("Sign in to confirm you\u2019re not a bot", sign_in_hint=True)
    assert "Sign in to confirm you\u2019re not a bot" in str(exc), "the curly apostrophe as YouTube writes it"
    with caplog.at_level(logging.WARNING, logger="workers.speech.refusals"):
        refusal = rejection(exc, youtube=True, host="www.youtube.com")
    assert str(refusal) == "YouTube refused this server just now; try again later or send the file."
    advice = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    for needed in ("YTDLP_COOKIES", "throwaway account", "bgutil-ytdlp-pot-provider", "YOUTUBE_CONCURRENT_DOWNLOADS"):
        assert needed in advice, advice


def test_a_geo_restriction_says_so():
    exc = raised_by_ytdlp(
        lambda extractor, _id: extractor.raise_geo_restricted(
            "The uploader has not made this video available in your country", countries=["SE"]
        )
    )
    assert "You might want to use a VPN" in str(exc), "yt-dlp's own wording for GeoRestrictedError"
    assert str(rejection(exc, youtube=True)) == "That video is not available in the country this server is in."


def test_a_dns_failure_says_the_server_cannot_reach_the_site(caplog, tmp_path):
    exc = raised_by_ytdlp(lambda extractor, video_id: extractor._download_webpage("http://nothing.invalid/", video_id))
    with caplog.at_level(logging.WARNING):
        refusal = rejection(exc, youtube=True, host="www.youtube.com")
    assert str(refusal) == "This server cannot reach www.youtube.com right now; try again later."
    assert any("DNS" in r.getMessage() for r in caplog.records)
    with pytest.raises(VideoRejected, match=r"This server cannot reach nothing\.invalid right now"):
        download_audio("http://nothing.invalid/v.mp4", tmp_path, youtube=False, cookies=None, max_seconds=60)


def test_youtube_formats_missing_point_the_operator_at_the_check(caplog):
    """No audio format (what a failed JS challenge leaves): the user is told briefly, the log says what to run."""
    exc = raised_by_ytdlp(
        lambda _extractor, video_id: {
            "id": video_id,
            "title": "t",
            "formats": [{"url": "https://x/v", "vcodec": "h264", "acodec": "none", "format_id": "v"}],
        },
        format="bestaudio",
    )
    assert "Requested format is not available" in str(exc)
    with caplog.at_level(logging.WARNING):
        assert str(rejection(exc, youtube=True)) == YOUTUBE_REFUSED
    assert any("--check" in r.getMessage() for r in caplog.records)
    assert str(rejection(exc, youtube=False)) == "I found no audio or video at that link."


def test_a_youtube_403_on_a_page_is_explained_and_logged(routes, caplog):
    routes.routes["/watch"] = [(403, "text/html", b"no")]
    exc = raised_by_ytdlp(lambda extractor, video_id: extractor._download_webpage(f"{routes.base}/watch", video_id))
    with caplog.at_level(logging.WARNING):
        assert str(rejection(exc, youtube=True)) == YOUTUBE_REFUSED
    assert any("HTTP 403" in r.getMessage() and "PO-token" in r.getMessage() for r in caplog.records)


def test_an_http_429_is_retried_once_then_explained(routes, tmp_path):
    media = tone(0.3)
    routes.routes["/busy-once.wav"] = [(429, "text/plain", b"slow down"), (200, "audio/wav", media)]
    path = download_audio(
        f"{routes.base}/busy-once.wav", tmp_path, youtube=False, cookies=None, max_seconds=60, retry_after_s=0.1
    )
    assert path.read_bytes() == media
    assert routes.requests_to("/busy-once.wav") == 3, "one retry of the extraction, which succeeded; the download"

    routes.routes["/busy.wav"] = [(429, "text/plain", b"slow down")]
    started = time.monotonic()
    with pytest.raises(VideoRejected) as refused:
        download_audio(
            f"{routes.base}/busy.wav", tmp_path, youtube=False, cookies=None, max_seconds=60, retry_after_s=0.3
        )
    assert (
        str(refused.value) == "127.0.0.1 refused to hand the video to this server (too many requests); try again later."
    )
    assert routes.requests_to("/busy.wav") == 2, "retried exactly once"
    assert time.monotonic() - started >= 0.3, "after the back-off"


def test_a_403_on_the_media_download_is_retried_once_with_a_fresh_extraction(routes, tmp_path):
    media = tone(0.3)
    # The extraction, the download's 403, then both again: the second attempt gets the file.
    routes.routes["/once.wav"] = [(200, "audio/wav", media), (403, "text/plain", b"no"), (200, "audio/wav", media)]
    path = download_audio(
        f"{routes.base}/once.wav", tmp_path, youtube=False, cookies=None, max_seconds=60, retry_after_s=0.1
    )
    assert path.read_bytes() == media
    assert routes.requests_to("/once.wav") == 4


def test_a_worker_says_at_start_what_youtube_jobs_will_use_or_what_to_fix(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="workers.speech.js_runtime"):
        assert js_runtime.log_at_start() is True
        assert js_runtime.log_at_start(_corrupt(tmp_path / "deno")) is False
    ready, broken = (r for r in caplog.records if r.name == "workers.speech.js_runtime")
    assert ready.levelno == logging.INFO and f"yt-dlp-ejs {yt_dlp_ejs.version}" in ready.getMessage()
    assert broken.levelno == logging.ERROR and "does not run (Exec format error)" in broken.getMessage()
