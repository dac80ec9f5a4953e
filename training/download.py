"""Fetch a dataset file once, check its SHA-256 and keep it in a cache keyed by its source.

A local source (a path or a file:// URL) is checked and read where it is; a download is cached
under a name derived from its URL and the expected checksum, so pointing the setting at another
URL fetches from there instead of reusing what an earlier URL gave.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from common.errors import DataError

TIMEOUT_S = 60


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_path(source: str, sha256: str, cache_dir: Path, name: str) -> Path:
    """Where a download of ``source`` is kept: ``name`` with a key of the URL and the checksum."""
    key = hashlib.sha256(f"{source}\n{sha256}".encode()).hexdigest()[:16]
    stem, dot, suffix = name.rpartition(".")
    return cache_dir / (f"{stem}-{key}.{suffix}" if dot else f"{name}-{key}")


def fetch_checked(source: str, sha256: str, cache_dir: Path, name: str) -> Path:
    """A file with that SHA-256 from ``source``: an https URL (cached in ``cache_dir``), a file:// URL or a path."""
    local = _local_path(source)
    if local is not None:
        try:
            actual = sha256_of(local)
        except OSError as exc:
            raise DataError(f"cannot fetch {source}: {exc}") from exc
        _check(source, actual, sha256)
        return local
    cache = cache_path(source, sha256, cache_dir, name)
    if cache.exists() and sha256_of(cache) == sha256:
        return cache
    cache_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=cache_dir, prefix=".download-")
    try:
        with os.fdopen(handle, "wb") as out:
            _download(source, out)
        _check(source, sha256_of(Path(temporary)), sha256)
        os.replace(temporary, cache)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return cache


def _local_path(source: str) -> Path | None:
    parts = urlsplit(source)
    if parts.scheme in {"http", "https"}:
        return None
    return Path(unquote(parts.path)) if parts.scheme == "file" else Path(source)


def _check(source: str, actual: str, expected: str) -> None:
    if actual != expected:
        raise DataError(f"{source} has SHA-256 {actual}, expected {expected}: refusing to use it")


def _download(source: str, out: BinaryIO) -> None:
    try:
        with urllib.request.urlopen(source, timeout=TIMEOUT_S) as response:  # noqa: S310 (scheme checked)
            shutil.copyfileobj(response, out)
    except OSError as exc:
        raise DataError(f"cannot fetch {source}: {exc}") from exc
