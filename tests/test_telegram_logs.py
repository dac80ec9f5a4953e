"""What `python -m bot telegram` writes to stderr when the library logs a URL with the bot token in it.

The unit test of :class:`bot.redaction.RedactSecret` (tests/test_delivery.py) puts the filter on a
handler itself; this one checks where the entry point puts it. A filter on the root logger would not
do: logging applies a logger's filters only to records logged on that logger, not to those that
propagate up from ``telegram.ext.Updater``, so only a filter on the handlers sees every record.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.chat_fixtures import TELEGRAM_TOKEN
from tests.conftest import REPO
from tests.emulators.telegram_api import TelegramEmulator
from tests.helpers import stop_process, wait_for


def test_a_polling_error_page_naming_the_token_is_logged_redacted(
    telegram_api: TelegramEmulator, process_env: dict[str, str], tmp_path: Path
) -> None:
    """getUpdates answers a proxy's error page with the request URL: PTB logs it, stderr shows bot<token>."""
    telegram_api.fail("getUpdates", status=502, proxy_page=True)
    stderr = tmp_path / "stderr.log"
    env = {**process_env, "TELEGRAM_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_API_URL": telegram_api.base_url}
    # Not the start_telegram_bot fixture: it refuses any traceback in the log, and this log has PTB's.
    with stderr.open("wb") as err:
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot", "telegram"], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err
        )
    try:
        # PTB retries the poll after about a second: the bot goes on after the failure.
        wait_for(lambda: len(telegram_api.calls_of("getUpdates")) >= 2 or bot.poll() is not None, timeout=30)
        assert bot.poll() is None, stderr.read_text()
        wait_for(lambda: "Exception happened while polling for updates" in stderr.read_text(), timeout=10)
    finally:
        stop_process(bot, timeout=10)
    text = stderr.read_text()
    assert TELEGRAM_TOKEN.split(":")[1] not in text, "the token's secret part leaked into stderr"
    assert "telegram.ext.Updater" in text  # the record came from the library's own logger
    assert "/bot<token>/getUpdates" in text  # the page's URL, redacted, in the message and its traceback
