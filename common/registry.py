"""A versioned model registry on the local disk (MODEL_DIR), shared by every process.

Layout: ``MODEL_DIR/<name>/<version>/`` holds the model's files and ``metadata.json``;
``MODEL_DIR/<name>/current.json`` points at the version in use. Every write goes to a temporary
path first and is renamed into place, so a reader never sees a half-written version. A version
may also name a Hugging Face Hub id (``uri``) instead of local files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.errors import DataError, StartupError

POINTER = "current.json"
METADATA = "metadata.json"


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    created_at: str
    metrics: dict[str, float] = field(default_factory=dict)
    feature_schema: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    uri: str | None = None  # a Hub id or another registry's reference, when not local files
    extra: dict[str, Any] = field(default_factory=dict)


class LocalModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root

    def check_writable(self) -> None:
        """Fail at start, naming the path, when MODEL_DIR cannot be used."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                pass
        except OSError as exc:
            raise StartupError(f"MODEL_DIR {self.root} is not writable: {exc.strerror}") from exc

    def register(
        self,
        name: str,
        write_files: Callable[[Path], None],
        *,
        metrics: dict[str, float],
        feature_schema: list[str],
        uri: str | None = None,
        extra: dict[str, Any] | None = None,
        make_current: bool = True,
    ) -> ModelVersion:
        """Write a new version with ``write_files(directory)`` and (by default) make it current."""
        model_root = self.root / name
        model_root.mkdir(parents=True, exist_ok=True)
        with self._locked(name):
            version = max(self._version_numbers(name), default=0) + 1
            staging = Path(tempfile.mkdtemp(dir=model_root, prefix=f".staging-{version}-"))
            try:
                write_files(staging)
                entry = ModelVersion(
                    name=name,
                    version=version,
                    created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    metrics=metrics,
                    feature_schema=feature_schema,
                    files=sorted(p.name for p in staging.iterdir()),
                    uri=uri,
                    extra=extra or {},
                )
                (staging / METADATA).write_text(json.dumps(asdict(entry), indent=2))
                staging.rename(model_root / str(version))
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            if make_current:
                self._write_pointer(name, version)
        return entry

    def current(self, name: str) -> ModelVersion | None:
        version = self.current_version_number(name)
        return None if version is None else self.get(name, version)

    def current_version_number(self, name: str) -> int | None:
        """The version the pointer names: one small file read, cheap enough to do per job."""
        pointer = self.root / name / POINTER
        try:
            return int(json.loads(pointer.read_text())["version"])
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            raise DataError(f"the registry pointer {pointer} is corrupt") from exc

    def get(self, name: str, version: int) -> ModelVersion:
        path = self.path(name, version) / METADATA
        try:
            return ModelVersion(**json.loads(path.read_text()))
        except FileNotFoundError as exc:
            raise DataError(f"{name} version {version} is missing in {self.root}") from exc
        except (json.JSONDecodeError, TypeError) as exc:
            raise DataError(f"the metadata of {name} version {version} ({path}) is corrupt") from exc

    def versions(self, name: str) -> list[ModelVersion]:
        return [self.get(name, number) for number in sorted(self._version_numbers(name))]

    def path(self, name: str, version: int) -> Path:
        return self.root / name / str(version)

    def _version_numbers(self, name: str) -> list[int]:
        model_root = self.root / name
        if not model_root.is_dir():
            return []
        return [int(p.name) for p in model_root.iterdir() if p.is_dir() and p.name.isdigit()]

    def _write_pointer(self, name: str, version: int) -> None:
        pointer = self.root / name / POINTER
        handle, temporary = tempfile.mkstemp(dir=pointer.parent, prefix=".pointer-")
        try:
            with os.fdopen(handle, "w") as file:
                json.dump({"version": version}, file)
            os.replace(temporary, pointer)
        except BaseException:
            os.unlink(temporary)  # the old pointer stands; no half-written one is left beside it
            raise

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        with open(self.root / name / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
