"""The web front end in Chromium: a real `python -m web`, real workers, a real redis-server."""

from __future__ import annotations

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
    # Nothing left the machine: every request went to the web server itself.
    hosts = {urlsplit(url).netloc for url in browser.requests if not url.startswith(("data:", "blob:"))}
    assert hosts == {urlsplit(web_server.url).netloc}, hosts


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
    """espeak-ng English in a video, uploaded: real tiny.en text, a working .srt download, the player with cues."""

    from tests.speech_fixtures import mux_video  # a plugin of this module: imported by then

    clip = mux_video(english_speech[0], tmp_path / "english-clip.mp4")
    page = browser.page()
    open_tab(page, web_server.url, "Speech")
    page.locator("#speech-file input[type=file]").set_input_files(str(clip))
    page.locator("#speech-language input").fill("en")
    page.locator("#speech-language input").press("Enter")
    page.locator("#speech-start").click()
    transcript = page.locator("#speech-transcript textarea")
    expect(transcript).to_have_value(re.compile("Transcript"), timeout=120_000)
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
