"""A real `python -m web` process, real workers and Debian's Chromium driven by Playwright.

Playwright's own browser download does not work on these machines: the tests launch
/usr/bin/chromium (``.ci/run`` installs it) with a fresh profile and every flag that keeps it from
calling out. Every request the browser makes is recorded, so a test can show it asked no other host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from common.embedded_redis import free_port
from tests.conftest import REPO
from tests.helpers import stop_process, wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


@dataclass
class WebServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Browser:
    context: object  # playwright's BrowserContext
    requests: list[str] = field(default_factory=list)  # every URL the browser asked for

    def page(self):
        page = self.context.new_page()  # type: ignore[attr-defined]
        page.set_default_timeout(30_000)
        return page


def web_env(redis_server: str, model_dir: Path, data_dir: Path, titanic_csv: Path) -> dict[str, str]:
    return {
        **os.environ, "REDIS_URL": redis_server, "MODEL_DIR": str(model_dir), "DATA_DIR": str(data_dir),
        "TITANIC_URL": str(titanic_csv), "PYTHONUNBUFFERED": "1", "no_proxy": "127.0.0.1,localhost",
        # Links to the tests' local media server (tests/speech_fixtures.py) pass as an intranet host would.
        "PRIVATE_VIDEO_HOSTS": "127.0.0.1",
    }  # fmt: skip


def start_web(env: dict[str, str], log: Path, **extra: str) -> WebServer:
    port = free_port()
    env = {**env, "WEB_LISTEN": f"127.0.0.1:{port}", **extra}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "web"], env=env, cwd=REPO, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}/"

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"python -m web exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    wait_for(up, timeout=60, interval=0.2)
    return WebServer(url, process, log)


@pytest.fixture(scope="module")
def web_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web-data")


@pytest.fixture(scope="module")
def web_process_env(redis_server: str, model_dir: Path, web_data_dir: Path, titanic_csv: Path) -> dict[str, str]:
    return web_env(redis_server, model_dir, web_data_dir, titanic_csv)


@pytest.fixture(scope="module")
def prediction_workers(web_process_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-m", "workers", "--queues", "predict,render"],
                               env=web_process_env, cwd=REPO)  # fmt: skip
    yield process
    stop_process(process)


@pytest.fixture(scope="module")
def start_web_server(web_process_env: dict[str, str], web_data_dir: Path) -> Iterator[Callable[..., WebServer]]:
    started: list[WebServer] = []

    def start(**extra: str) -> WebServer:
        server = start_web(web_process_env, web_data_dir / f"web-{len(started)}.log", **extra)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_process(server.process)


@pytest.fixture(scope="module")
def web_server(start_web_server: Callable[..., WebServer]) -> WebServer:
    return start_web_server()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed at /usr/bin/chromium: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def new_browser(chromium) -> Iterator[Callable[[], Browser]]:
    """Chromium with a fresh profile each call: no cookie or session of another user."""
    opened: list[tuple[object, str]] = []

    def launch() -> Browser:
        profile = tempfile.mkdtemp(prefix="chromium-")
        context = chromium.chromium.launch_persistent_context(  # type: ignore[attr-defined]
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS, accept_downloads=True,
            viewport={"width": 1280, "height": 900},
        )
        opened.append((context, profile))
        recorded = Browser(context)
        context.on("request", lambda request: recorded.requests.append(request.url))
        return recorded

    yield launch
    for context, profile in opened:
        context.close()  # type: ignore[attr-defined]
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(new_browser: Callable[[], Browser]) -> Browser:
    return new_browser()
