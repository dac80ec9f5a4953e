"""python-telegram-bot's HTTP requests, counted per Bot API method and status (429s with their retry_after).

The label is the method's name only: the URL holds the bot token, a file download's path a file id.
"""

from __future__ import annotations

import json
import re
from typing import Any

from telegram.request import HTTPXRequest

from common.metrics import events

PLATFORM = "telegram"
_METHOD = re.compile(r"[A-Za-z]{2,40}")


def method_of(url: str) -> str:
    name = url.rsplit("/", 1)[-1]
    return name if _METHOD.fullmatch(name) else "file"


def retry_after(payload: bytes) -> float | None:
    try:
        value = json.loads(payload)["parameters"]["retry_after"]
        return float(value)
    except (ValueError, KeyError, TypeError):
        return None


class MeteredRequest(HTTPXRequest):
    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        try:
            status, payload = await super().do_request(url, method, *args, **kwargs)
        except Exception:
            events.platform_request(PLATFORM, method_of(url), "error")
            raise
        events.platform_request(PLATFORM, method_of(url), status, retry_after(payload) if status == 429 else None)
        return status, payload
