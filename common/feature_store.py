"""A local feature store under DATA_DIR/features: versioned tables and append-only histories.

Tables are CSV files written atomically (temporary file, then rename); histories are JSON lines,
one record per line, appended under a lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from common.errors import DataError


class LocalFeatureStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write_table(self, name: str, frame: pd.DataFrame, version: int = 1) -> Path:
        path = self._table_path(name, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".write-")
        with os.fdopen(handle, "w") as file:
            frame.to_csv(file, index=False)
        os.replace(temporary, path)
        return path

    def read_table(self, name: str, version: int = 1) -> pd.DataFrame:
        path = self._table_path(name, version)
        if not path.exists():
            raise DataError(f"feature table {name} v{version} not found at {path}: run its feature pipeline")
        return pd.read_csv(path)

    def append_history(self, name: str, records: list[dict[str, Any]]) -> None:
        path = self.root / "history" / f"{name}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            file.writelines(json.dumps(record) + "\n" for record in records)
            file.flush()
            fcntl.flock(file, fcntl.LOCK_UN)

    def read_history(self, name: str) -> list[dict[str, Any]]:
        path = self.root / "history" / f"{name}.jsonl"
        if not path.exists():
            return []
        with open(path) as file:
            return [json.loads(line) for line in file if line.strip()]

    def _table_path(self, name: str, version: int) -> Path:
        return self.root / name / f"v{version}.csv"
