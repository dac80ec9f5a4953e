"""discord.py's HTTP requests (aiohttp's trace hooks), counted per route and status; 429s with their wait.

A route is its path with ids and tokens taken out (``POST /interactions/{id}/{token}/callback``).
"""

from __future__ import annotations

import contextlib
import re
from types import SimpleNamespace
from typing import Any

import aiohttp

from common.metrics import events

PLATFORM = "discord"
_WORD = re.compile(r"[a-z][a-z_-]{0,30}")
_VERSION = re.compile(r"v\d+")


def route_of(method: str, path: str) -> str:
    parts = [part for part in path.split("/") if part]
    if parts and parts[0] == "api":
        parts = parts[1:]
    if parts and _VERSION.fullmatch(parts[0]):
        parts = parts[1:]
    shown = ["{id}" if part.isdigit() else part if _WORD.fullmatch(part) else "{token}" for part in parts]
    return f"{method.upper()} /{'/'.join(shown)}"


async def _on_end(_session: Any, _context: SimpleNamespace, params: aiohttp.TraceRequestEndParams) -> None:
    status = params.response.status
    wait = None
    if status == 429:  # X-RateLimit-Reset-After has the fraction; Retry-After is whole seconds
        for header in ("X-RateLimit-Reset-After", "Retry-After"):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                wait = float(params.response.headers[header])
                break
    events.platform_request(PLATFORM, route_of(params.method, params.url.path), status, wait)


async def _on_error(_session: Any, _context: SimpleNamespace, params: aiohttp.TraceRequestExceptionParams) -> None:
    events.platform_request(PLATFORM, route_of(params.method, params.url.path), "error")


def trace_config() -> aiohttp.TraceConfig:
    """For ``discord.Client(http_trace=...)``."""
    config = aiohttp.TraceConfig()
    config.on_request_end.append(_on_end)
    config.on_request_exception.append(_on_error)
    return config
