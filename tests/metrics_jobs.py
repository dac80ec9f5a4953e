"""Job functions for tests/test_metrics_events.py: a real RQ worker runs them by dotted path."""

from __future__ import annotations

from typing import Any

from common.errors import BadCommand


def recognised(payload: dict[str, Any]) -> dict[str, Any]:
    """What a speech job returns: its audio length, and whether the cache answered."""
    return {"audio_s": payload["audio_s"], "cached": payload.get("cached", False)}


def cancelled(payload: dict[str, Any]) -> dict[str, Any]:
    return {"cancelled": True}


def refused(payload: dict[str, Any]) -> None:
    raise BadCommand("That video is too long.")
