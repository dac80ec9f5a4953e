"""The web front end in Chromium: a real `python -m web`, real workers, a real redis-server."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import redis
from playwright.sync_api import expect

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
