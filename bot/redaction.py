"""Keep secrets out of the logs: the bot token, and Discord's interaction tokens in webhook URLs.

A filter on the root handlers, installed once at start-up (``python -m bot``), so a library that logs
a request URL or a traceback with the token in it cannot write it out.
"""

from __future__ import annotations

import logging
import re


class RedactSecret(logging.Filter):
    """Removes a secret (the bot token) from every record, traceback included, before it is written.

    Discord's interaction tokens, which webhook and callback URLs carry, go too.
    """

    URL_TOKEN = re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/\s?]+")

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info:
            record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
        return True

    def _clean(self, text: str) -> str:
        return self.URL_TOKEN.sub(r"\1<token>", text.replace(self.secret, "<token>"))


def redact_logs(secret: str) -> None:
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecret(secret))
