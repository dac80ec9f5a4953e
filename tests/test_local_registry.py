"""common/registry.py: versions on disk and the pointer to the current one, which every process reads.

A version is written aside and renamed into place; the pointer (current.json) names the version
workers serve, and only what ``register`` makes current moves it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.errors import DataError, StartupError
from common.registry import LocalModelRegistry


def write(data: str):
    def files(directory: Path) -> None:
        (directory / "model.txt").write_text(data)

    return files


def test_versions_count_up_and_the_pointer_follows_the_newest(tmp_path):
    registry = LocalModelRegistry(tmp_path / "models")
    assert registry.current("iris") is None and registry.current_version_number("iris") is None
    first = registry.register("iris", write("one"), metrics={"accuracy": 0.9}, feature_schema=["a", "b"])
    second = registry.register(
        "iris",
        write("two"),
        metrics={"accuracy": 0.95},
        feature_schema=["a", "b"],
        uri="hub/iris",
        extra={"backend": "sklearn"},
    )
    assert (first.version, second.version) == (1, 2)
    assert registry.current_version_number("iris") == 2
    assert registry.current("iris") == second
    assert json.loads((tmp_path / "models" / "iris" / "current.json").read_text()) == {"version": 2}
    assert (registry.path("iris", 2) / "model.txt").read_text() == "two"
    assert second.files == ["model.txt"] and second.uri == "hub/iris" and second.extra == {"backend": "sklearn"}
    assert second.metrics == {"accuracy": 0.95} and second.feature_schema == ["a", "b"]
    assert [v.version for v in registry.versions("iris")] == [1, 2]
    assert registry.get("iris", 1) == first
    assert registry.current_version_number("titanic") is None, "each model has its own pointer"


def test_a_version_not_made_current_leaves_the_pointer_where_it_was(tmp_path):
    registry = LocalModelRegistry(tmp_path)
    registry.register("asr", write("one"), metrics={}, feature_schema=[])
    held = registry.register("asr", write("two"), metrics={}, feature_schema=[], make_current=False)
    assert held.version == 2 and registry.current_version_number("asr") == 1
    first = LocalModelRegistry(tmp_path / "fresh").register(
        "asr", write("x"), metrics={}, feature_schema=[], make_current=False
    )
    assert first.version == 1 and LocalModelRegistry(tmp_path / "fresh").current("asr") is None


def test_a_failed_write_leaves_no_version_and_no_staging_behind(tmp_path):
    registry = LocalModelRegistry(tmp_path)
    registry.register("iris", write("one"), metrics={}, feature_schema=[])

    def broken(directory: Path) -> None:
        (directory / "half.bin").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        registry.register("iris", broken, metrics={}, feature_schema=[])
    assert registry.current_version_number("iris") == 1
    assert sorted(p.name for p in (tmp_path / "iris").iterdir()) == [".lock", "1", "current.json"]


def test_a_corrupt_pointer_or_metadata_is_named_in_the_error(tmp_path):
    registry = LocalModelRegistry(tmp_path)
    registry.register("iris", write("one"), metrics={}, feature_schema=[])
    pointer = tmp_path / "iris" / "current.json"
    for corrupt in ("{", "{}", '{"version": "one"}', "[1]"):
        pointer.write_text(corrupt)
        with pytest.raises(DataError, match=f"the registry pointer {pointer} is corrupt"):
            registry.current_version_number("iris")
    (tmp_path / "iris" / "1" / "metadata.json").write_text("{")
    with pytest.raises(DataError, match=r"the metadata of iris version 1 .* is corrupt"):
        registry.get("iris", 1)
    with pytest.raises(DataError, match=f"iris version 7 is missing in {tmp_path}"):
        registry.get("iris", 7)


def test_registrations_at_the_same_time_get_distinct_versions(tmp_path):
    registry = LocalModelRegistry(tmp_path)
    numbers: list[int] = []
    threads = [
        threading.Thread(
            target=lambda n=n: numbers.append(
                registry.register("iris", write(str(n)), metrics={}, feature_schema=[]).version
            )
        )
        for n in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == [1, 2, 3, 4, 5, 6]
    assert registry.current_version_number("iris") in numbers


def test_an_unwritable_model_dir_stops_the_start_naming_it(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(StartupError, match=f"MODEL_DIR {blocked} is not writable"):
        LocalModelRegistry(blocked).check_writable()
    LocalModelRegistry(tmp_path / "new").check_writable()
    assert (tmp_path / "new").is_dir() and list((tmp_path / "new").iterdir()) == []


def test_a_version_is_written_hidden_beside_its_place_and_dated_in_utc(tmp_path):
    """Written in a hidden folder next to the versions (the rename into place stays on one filesystem)."""
    registry = LocalModelRegistry(tmp_path)
    seen: list[Path] = []

    def files(directory: Path) -> None:
        seen.append(directory)
        (directory / "model.txt").write_text("one")

    version = registry.register("iris", files, metrics={}, feature_schema=[])
    assert seen[0].parent == tmp_path / "iris" and seen[0].name.startswith(".staging-1-")
    assert version.name == "iris" and registry.get("iris", 1).name == "iris"
    created = datetime.fromisoformat(version.created_at)
    assert created.utcoffset() == timedelta(0) and abs(datetime.now(UTC) - created) < timedelta(minutes=5)


def test_only_numbered_folders_are_versions(tmp_path):
    registry = LocalModelRegistry(tmp_path)
    registry.register("iris", write("one"), metrics={}, feature_schema=[])
    (tmp_path / "iris" / "7").write_text("a stray file, not a version")
    (tmp_path / "iris" / "notes").mkdir()
    assert [v.version for v in registry.versions("iris")] == [1]
    assert registry.register("iris", write("two"), metrics={}, feature_schema=[]).version == 2


def test_check_writable_makes_a_nested_model_dir_and_takes_an_existing_one(tmp_path):
    nested = LocalModelRegistry(tmp_path / "a" / "b" / "models")
    nested.check_writable()
    nested.check_writable()  # again, now that it exists
    assert nested.root.is_dir()


def test_the_registry_writes_nothing_outside_model_dir(tmp_path, monkeypatch):
    """Temporary files go beside what they replace, never to the system's temp dir: that is read-only in
    many containers, and on another filesystem, where the rename into place fails."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-system-temp"))
    registry = LocalModelRegistry(tmp_path / "models")
    registry.check_writable()
    registry.register("iris", write("one"), metrics={}, feature_schema=[])
    registry.register("iris", write("two"), metrics={}, feature_schema=[])
    assert registry.current_version_number("iris") == 2
    assert not (tmp_path / "no-system-temp").exists()


def test_a_failed_write_reports_its_own_error_even_when_its_folder_is_gone(tmp_path):
    """The clean-up after a failed write never hides the write's error (here its folder was removed under it)."""
    registry = LocalModelRegistry(tmp_path)

    def vanishing(directory: Path) -> None:
        shutil.rmtree(directory)
        raise OSError("the disk went away")

    with pytest.raises(OSError, match="the disk went away"):
        registry.register("iris", vanishing, metrics={}, feature_schema=[])
    assert registry.versions("iris") == []


def test_a_failed_pointer_write_keeps_the_old_pointer_and_leaves_no_file_behind(tmp_path, monkeypatch):
    registry = LocalModelRegistry(tmp_path)
    registry.register("iris", write("one"), metrics={}, feature_schema=[])

    def failing_replace(source: str, target: Path) -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr("common.registry.os.replace", failing_replace)
    with pytest.raises(OSError, match="no space left"):
        registry.register("iris", write("two"), metrics={}, feature_schema=[])
    assert registry.current_version_number("iris") == 1
    assert sorted(p.name for p in (tmp_path / "iris").iterdir()) == [".lock", "1", "2", "current.json"]
