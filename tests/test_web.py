"""The web front end in Chromium: a real `python -m web`, real workers, a real redis-server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from playwright.sync_api import expect

from tests.conftest import REPO
from tests.helpers import stop_process

pytest_plugins = ["tests.web_fixtures", "tests.speech_fixtures"]
pytestmark = pytest.mark.slow


def open_tab(page, url: str, name: str) -> None:
    page.goto(url)
    page.get_by_role("tab", name=name).click()


def asked_only_the_server(browser, url: str) -> None:
    """Nothing left the machine: every request the page made went to the web server itself."""
    hosts = {urlsplit(seen).netloc for seen in browser.requests if not seen.startswith(("data:", "blob:"))}
    assert hosts == {urlsplit(url).netloc}, hosts


def fill(page, field: str, value: str) -> None:
    box = page.locator(f"#field-{field} input").first
    box.fill(value)
    box.press("Tab")


def test_the_iris_form_gives_the_verdict_and_its_picture(web_server, prediction_workers, browser):
    """The form starts with the schema's example; Predict shows the bots' verdict and the worker's picture."""
    page = browser.page()
    open_tab(page, web_server.url, "Iris")
    assert page.locator("#field-sepal_length input").first.input_value() == "5.1"
    page.locator("#predict-iris").click()
    verdict = page.locator("#verdict-iris textarea")
    expect(verdict).to_have_value(re.compile("Iris: setosa"), timeout=30_000)
    assert "sure; versicolor" in verdict.input_value()
    picture = page.locator("#picture-iris img")
    picture.wait_for()
    assert page.evaluate("(img) => img.naturalWidth", picture.element_handle()) > 100
    shot = page.screenshot(full_page=True)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("MLCHAT_SCREENSHOTS") == "1":  # the README's picture: MLCHAT_SCREENSHOTS=1 pytest ...
        (REPO / "docs" / "web-iris.png").write_bytes(shot)
    asked_only_the_server(browser, web_server.url)


def test_a_titanic_age_of_300_shows_the_bots_error_and_queues_nothing(
    web_server, browser, redis_server
):
    """The same words as in chat, and no job: the check runs before anything is queued."""
    connection = redis.Redis.from_url(redis_server)
    before = set(connection.scan_iter("rq:job:*"))
    page = browser.page()
    open_tab(page, web_server.url, "Titanic")
    fill(page, "age", "300")
    page.locator("#predict-titanic").click()
    verdict = page.locator("#verdict-titanic textarea")
    expect(verdict).to_have_value(re.compile("out of range"), timeout=30_000)
    assert verdict.input_value() == (
        "age (age in years) must be between 0.1 and 100 years; 300 is out of range. "
        "Example: /titanic pclass=1 sex=female age=29 sibsp=0 parch=0 fare=80 embarked=C"
    )
    assert set(connection.scan_iter("rq:job:*")) == before
    assert connection.llen("rq:queue:predict") == 0


def test_a_speech_job_waiting_in_line_is_cancelled_from_the_page(web_server, browser, english_speech, redis_server):
    """Before any speech worker runs: the upload is queued, with the bots' note; Cancel takes it out of line."""
    page = browser.page()
    open_tab(page, web_server.url, "Speech")
    page.locator("#speech-file input[type=file]").set_input_files(str(english_speech[0]))
    page.locator("#speech-start").click()
    progress = page.locator("#speech-progress")
    expect(progress).to_contain_text("Queued as job", timeout=30_000)
    assert "no worker serves speech" in progress.inner_text()
    job = re.search(r"job ([0-9a-f]{12})", progress.inner_text()).group(1)
    page.locator("#speech-cancel").click()
    expect(progress).to_contain_text(f"Cancelled job {job}.")
    assert redis.Redis.from_url(redis_server).llen("rq:queue:transcribe") == 0


@pytest.fixture(scope="module")
def speech_worker(web_process_env, english_model, tmp_path_factory):
    """A speech worker with the real Whisper tiny.en (CTranslate2)."""
    env = {**web_process_env, "ASR_MODEL": str(english_model), "ASR_BACKEND": "ctranslate2", "ASR_DEVICE": "cpu",
           "MODEL_DIR": str(tmp_path_factory.mktemp("speech-models"))}
    log = tmp_path_factory.mktemp("speech-worker") / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "workers", "--queues", "transcribe"], env=env, cwd=REPO,
                                   stdout=out, stderr=out)
    yield process
    stop_process(process)


def test_an_uploaded_clip_is_transcribed_with_progress_downloads_and_subtitles(
    web_server, speech_worker, browser, english_speech, tmp_path
):
    """espeak-ng English in a video, uploaded: the worker's progress, real tiny.en text, a working .srt
    download, the player with the subtitles."""
    from tests.speech_fixtures import mux_video  # a plugin of this module: imported by then

    clip = mux_video(english_speech[0], tmp_path / "english-clip.mp4")
    page = browser.page()
    open_tab(page, web_server.url, "Speech")
    page.locator("#speech-file input[type=file]").set_input_files(str(clip))
    page.locator("#speech-language input").fill("en")
    page.locator("#speech-language input").press("Enter")
    # Every text the progress line shows, as the page renders it.
    page.evaluate("""() => { window.shown = [];
        new MutationObserver(() => window.shown.push(document.querySelector('#speech-progress').innerText))
            .observe(document.querySelector('#speech-progress'), {subtree: true, childList: true, characterData: true});
    }""")
    page.locator("#speech-start").click()
    transcript = page.locator("#speech-transcript textarea")
    expect(transcript).to_have_value(re.compile("Transcript"), timeout=120_000)
    shown = " | ".join(page.evaluate("() => window.shown"))
    assert "Queued as job" in shown or "Working on it" in shown, shown
    assert "Recognising speech" in shown or "Decoding the audio" in shown, shown  # the worker's own words
    heard = transcript.input_value().lower()
    assert "lazy dog" in heard and "speech into text" in heard, heard
    expect(page.locator("#speech-progress")).to_contain_text("is done", timeout=30_000)
    link = page.locator('#speech-files a[download$=".srt"]')
    with page.expect_download() as download:
        link.click()
    srt = Path(download.value.path()).read_text()
    assert re.search(r"00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}", srt), srt
    assert "speech into text" in srt.lower()
    track = page.locator("#speech-player track")
    expect(track).to_have_count(1, timeout=30_000)  # the upload is converted to a playable mp4 first
    assert track.get_attribute("src"), "the subtitles' URL"
    asked_only_the_server(browser, web_server.url)


def test_a_video_link_is_transcribed_by_the_speech_worker(web_server, speech_worker, browser, media_server):
    """The lab's "Whisper from YouTube": a link in (here the tests' local media server), the text out."""
    page = browser.page()
    open_tab(page, web_server.url, "Speech")
    page.locator("#speech-link textarea, #speech-link input").first.fill(f"{media_server}/english.wav")
    page.locator("#speech-language input").fill("en")
    page.locator("#speech-language input").press("Enter")
    page.locator("#speech-start").click()
    transcript = page.locator("#speech-transcript textarea")
    expect(transcript).to_have_value(re.compile("Transcript"), timeout=120_000)
    assert "speech into text" in transcript.input_value().lower()
    expect(page.locator("#speech-files a[download$='.vtt']")).to_have_count(1, timeout=30_000)


def test_the_monitoring_tab_plots_the_history_after_a_scheduler_round(
    web_server, web_process_env, prediction_workers, browser
):
    """`python -m scheduler --run-now` writes a round: the tab plots and lists it; a round now draws the dashboard."""
    done = subprocess.run([sys.executable, "-m", "scheduler", "--run-now"], env=web_process_env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = browser.page()
    open_tab(page, web_server.url, "Monitoring")
    page.locator("#accuracy-iris .vega-embed").wait_for()
    expect(page.locator("#latest-iris")).to_contain_text("cm", timeout=30_000)  # a flower described
    page.locator("#round-now-titanic").click()  # loopback without WEB_USERS: the operator may
    picture = page.locator("#dashboard-titanic img")
    picture.wait_for(timeout=60_000)
    assert page.evaluate("(img) => img.naturalWidth", picture.element_handle()) > 300
    expect(page.locator("#monitor-status-titanic")).to_contain_text("Titanic")
    asked_only_the_server(browser, web_server.url)  # the plots' scripts included


def log_in(page, url: str, user: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()


@pytest.fixture(scope="module")
def web_users(tmp_path_factory) -> str:
    """A WEB_USERS file made with the documented command: alice and bob."""
    path = tmp_path_factory.mktemp("web-users") / "users"
    lines = []
    for user, password in (("alice", "alice-secret-1"), ("bob", "bob-secret-22")):
        made = subprocess.run([sys.executable, "-m", "web.users", user], input=password + "\n", cwd=REPO,
                              capture_output=True, text=True, check=True)  # fmt: skip
        assert password not in made.stdout
        lines.append(made.stdout)
    path.write_text("".join(lines))
    return str(path)


def test_with_web_users_a_wrong_password_is_refused_and_users_see_only_their_own_jobs(
    start_web_server, web_users, prediction_workers, new_browser
):
    """A wrong password gets no page; alice's job is in her queue tab and nowhere in bob's."""
    server = start_web_server(WEB_USERS=web_users)
    stranger = new_browser().page()
    log_in(stranger, server.url, "alice", "wrong-password")
    expect(stranger.get_by_text("Incorrect Credentials", exact=False)).to_be_visible()
    expect(stranger.get_by_role("tab", name="Iris")).to_have_count(0)

    alice = new_browser().page()
    log_in(alice, server.url, "alice", "alice-secret-1")
    alice.get_by_role("tab", name="Iris").click()
    alice.locator("#predict-iris").click()
    expect(alice.locator("#verdict-iris textarea")).to_have_value(re.compile("Iris: setosa"), timeout=30_000)
    job = re.search(r"job ([0-9a-f]{12})", alice.locator("#status-iris").inner_text(), re.IGNORECASE).group(1)
    alice.get_by_role("tab", name="Queue").click()
    alice.locator("#queue-refresh").click()
    expect(alice.locator("#queue-mine")).to_contain_text(job)
    expect(alice.locator("#queue-queues")).to_contain_text("predict")

    bob = new_browser().page()
    log_in(bob, server.url, "bob", "bob-secret-22")
    bob.get_by_role("tab", name="Queue").click()
    bob.locator("#queue-refresh").click()
    expect(bob.locator("#queue-queues")).to_contain_text("predict")
    assert job not in bob.locator("#queue-mine").inner_text()
    assert job not in bob.locator("#queue-workers").inner_text()


def test_the_per_user_limit_counts_each_anonymous_session_and_answers_busy(
    start_web_server, prediction_workers, new_browser
):
    """USER_JOBS_PER_MINUTE=1: a session's second prediction gets the bots' "busy"; another session still gets one."""
    server = start_web_server(USER_JOBS_PER_MINUTE="1")
    first = new_browser().page()
    open_tab(first, server.url, "Iris")
    first.locator("#predict-iris").click()
    verdict = first.locator("#verdict-iris textarea")
    expect(verdict).to_have_value(re.compile("Iris: setosa"), timeout=30_000)
    expect(first.locator("#status-iris")).to_contain_text("is done", timeout=30_000)  # the picture came too
    # Gradio drops a click on a button whose event still runs: wait for the event's end.
    expect(first.locator("#verdict-iris [data-testid=status-tracker]")).to_have_class(re.compile(r"\bhide\b"))
    first.locator("#predict-iris").click()
    expect(verdict).to_have_value(re.compile(r"my limit: busy, try again in \d+ s"), timeout=30_000)
    other = new_browser().page()
    open_tab(other, server.url, "Iris")
    other.locator("#predict-iris").click()
    expect(other.locator("#verdict-iris textarea")).to_have_value(re.compile("Iris: setosa"), timeout=30_000)


def test_web_root_path_prefixes_the_pages_own_urls(start_web_server):
    """Behind a proxy at /mlchat: the process serves at /, and the page asks for its files under the prefix."""
    import urllib.request

    server = start_web_server(WEB_ROOT_PATH="/mlchat")
    with urllib.request.urlopen(server.url, timeout=10) as response:
        page = response.read().decode()
    assert f'"root":"{server.url}mlchat"' in page


def test_metrics_listen_serves_the_web_front_ends_counts(start_web_server, browser):
    """METRICS_LISTEN as for the bots: a refused form counts as the web platform's bad input."""
    import urllib.request

    from common.embedded_redis import free_port

    port = free_port()
    server = start_web_server(METRICS_LISTEN=f"127.0.0.1:{port}")
    page = browser.page()
    open_tab(page, server.url, "Titanic")
    fill(page, "age", "300")
    page.locator("#predict-titanic").click()
    expect(page.locator("#verdict-titanic textarea")).to_have_value(re.compile("out of range"), timeout=30_000)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert 'mlchat_refusals_total{platform="web",reason="bad_input"} 1.0' in metrics, metrics[-2000:]
