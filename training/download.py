"""Fetch a dataset file once, check its SHA-256 and keep it in a cache."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

from common.errors import DataError

TIMEOUT_S = 60


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_checked(source: str, sha256: str, cache: Path) -> Path:
    """Return ``cache`` holding the file from ``source`` (https URL, file:// URL or path) with that hash."""
    if cache.exists() and sha256_of(cache) == sha256:
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=cache.parent, prefix=".download-")
    try:
        with os.fdopen(handle, "wb") as out:
            _copy_source(source, out)
        actual = sha256_of(Path(temporary))
        if actual != sha256:
            raise DataError(f"{source} has SHA-256 {actual}, expected {sha256}: refusing to use it")
        os.replace(temporary, cache)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return cache


def _copy_source(source: str, out: object) -> None:
    parts = urlsplit(source)
    try:
        if parts.scheme in {"http", "https"}:
            with urllib.request.urlopen(source, timeout=TIMEOUT_S) as response:  # noqa: S310 (scheme checked)
                shutil.copyfileobj(response, out)  # type: ignore[arg-type]
            return
        path = Path(unquote(parts.path)) if parts.scheme == "file" else Path(source)
        with open(path, "rb") as file:
            shutil.copyfileobj(file, out)  # type: ignore[arg-type]
    except OSError as exc:
        raise DataError(f"cannot fetch {source}: {exc}") from exc
