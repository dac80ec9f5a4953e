"""Iris and Titanic pipelines: checked download, features, cross-validated accuracy, registration."""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from common.errors import DataError
from common.feature_store import LocalFeatureStore
from common.registry import LocalModelRegistry
from common.settings import TITANIC_SHA256
from tests.conftest import REPO
from training.download import fetch_checked
from training.iris import pipeline as iris
from training.titanic import pipeline as titanic
from training.titanic.features import title_from_name


@pytest.fixture
def http_folder(tmp_path: Path):
    """A local HTTP server over a folder, as the 'public URL' of a dataset."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_titanic_is_downloaded_over_http_checked_and_cached(http_folder, titanic_csv, tmp_path):
    folder, base = http_folder
    (folder / "titanic.csv").write_bytes(titanic_csv.read_bytes())
    cache_dir = tmp_path / "cache"
    cached = fetch_checked(f"{base}/titanic.csv", TITANIC_SHA256, cache_dir, "titanic.csv")
    assert cached.parent == cache_dir
    (folder / "titanic.csv").unlink()  # the second call must not need the server
    again = fetch_checked(f"{base}/titanic.csv", TITANIC_SHA256, cache_dir, "titanic.csv")
    assert again == cached
    assert again.read_bytes() == titanic_csv.read_bytes()


def test_the_cache_follows_the_url(http_folder, titanic_csv, tmp_path):
    """A cached download of one URL is not taken for another URL: that one is fetched, or fails."""
    folder, base = http_folder
    (folder / "titanic.csv").write_bytes(titanic_csv.read_bytes())
    cache_dir = tmp_path / "cache"
    first = fetch_checked(f"{base}/titanic.csv", TITANIC_SHA256, cache_dir, "titanic.csv")
    with pytest.raises(DataError, match=r"cannot fetch .*elsewhere\.csv"):
        fetch_checked(f"{base}/elsewhere.csv", TITANIC_SHA256, cache_dir, "titanic.csv")
    with pytest.raises(DataError, match=r"cannot fetch .*missing\.csv"):
        fetch_checked(str(tmp_path / "missing.csv"), TITANIC_SHA256, cache_dir, "titanic.csv")
    (folder / "copy.csv").write_bytes(titanic_csv.read_bytes())
    second = fetch_checked(f"{base}/copy.csv", TITANIC_SHA256, cache_dir, "titanic.csv")
    assert second != first and second.read_bytes() == first.read_bytes()


def test_a_local_copy_is_checked_and_read_in_place(titanic_csv, tmp_path):
    """A path or file:// URL is used where it is (no copy in the cache), after its checksum is checked."""
    cache_dir = tmp_path / "cache"
    assert fetch_checked(str(titanic_csv), TITANIC_SHA256, cache_dir, "titanic.csv") == titanic_csv
    assert fetch_checked(titanic_csv.as_uri(), TITANIC_SHA256, cache_dir, "titanic.csv") == titanic_csv
    assert not cache_dir.exists()
    changed = tmp_path / "changed.csv"
    changed.write_bytes(titanic_csv.read_bytes().replace(b"Braund", b"Brawnd"))
    with pytest.raises(DataError, match="expected 4a437fde"):
        fetch_checked(str(changed), TITANIC_SHA256, cache_dir, "titanic.csv")


def test_a_file_with_the_wrong_checksum_is_refused_and_not_cached(http_folder, titanic_csv, tmp_path):
    folder, base = http_folder
    (folder / "titanic.csv").write_bytes(titanic_csv.read_bytes().replace(b"Braund", b"Brawnd"))
    cache_dir = tmp_path / "cache"
    with pytest.raises(DataError, match="expected 4a437fde"):
        fetch_checked(f"{base}/titanic.csv", TITANIC_SHA256, cache_dir, "titanic.csv")
    assert list(cache_dir.iterdir()) == [], "no partial download is left behind"


def test_an_unreachable_source_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="cannot fetch"):
        fetch_checked(str(tmp_path / "missing.csv"), TITANIC_SHA256, tmp_path / "cache", "titanic.csv")


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("Braund, Mr. Owen Harris", "Mr"),
        ("Heikkinen, Miss. Laina", "Miss"),
        ("Palsson, Master. Gosta", "Master"),
        ("Cumings, Mrs. John Bradley", "Mrs"),
        ("Uruchurtu, Don. Manuel E", "Rare"),
        ("Aubart, Mme. Leontine", "Mrs"),
        ("Reuchlin, Jonkheer. John George", "Rare"),
        ("Minahan, Dr. William Edward", "Rare"),
    ],
)
def test_titles_from_names(name, title):
    assert title_from_name(name) == title


def test_titanic_feature_table_keeps_all_rows_and_gaps(titanic_csv, tmp_path):
    store = LocalFeatureStore(tmp_path / "features")
    passengers = titanic.feature_pipeline(str(titanic_csv), TITANIC_SHA256, tmp_path, store)
    assert len(passengers) == 891
    assert passengers["age"].isna().sum() == 177, "ages are imputed at training time, not in the table"
    assert store.read_table("titanic").shape == passengers.shape


def test_titanic_cross_validated_accuracy_beats_the_women_survive_rule(titanic_csv, tmp_path):
    """5-fold CV on the 891 rows reaches at least 0.82 (sex alone gives 0.787)."""
    passengers = titanic.feature_pipeline(str(titanic_csv), TITANIC_SHA256, tmp_path, LocalFeatureStore(tmp_path))
    women_rule = float(((passengers["sex"] == "female") == (passengers["survived"] == 1)).mean())
    _, report = titanic.train(passengers, titanic.TitanicOptions())
    assert round(women_rule, 3) == 0.787
    assert report.accuracy >= 0.82, report.summary()
    assert sum(map(sum, report.confusion)) == 891


def test_iris_cross_validated_accuracy(tmp_path):
    flowers = iris.feature_pipeline(LocalFeatureStore(tmp_path))
    _, report = iris.train(flowers, iris.IrisOptions())
    assert report.accuracy >= 0.95, report.summary()


def test_training_commands_register_versions_with_metadata_and_confusion_png(tmp_path, titanic_csv):
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "MODEL_DIR": str(tmp_path / "models"),
        "TITANIC_URL": str(titanic_csv),
        "PATH": "/usr/bin:/bin",
    }
    for model in ("iris", "titanic", "iris"):
        done = subprocess.run(
            [sys.executable, "-m", f"training.{model}"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert "CV accuracy" in done.stdout and "±" in done.stdout
        assert "fold/s" not in done.stderr, "no progress bar where stderr is not a terminal"
    registry = LocalModelRegistry(tmp_path / "models")
    assert [v.version for v in registry.versions("iris")] == [1, 2]
    current = registry.current("titanic")
    assert current is not None and current.metrics["cv_accuracy"] >= 0.82
    assert current.feature_schema[:3] == ["pclass", "sex", "age"]
    assert current.created_at.endswith("+00:00")
    folder = registry.path("titanic", current.version)
    assert (folder / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((folder / "metadata.json").read_text())["version"] == current.version
    skipped = subprocess.run(
        [sys.executable, "-m", "training.iris", "--if-missing"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "already registered" in skipped.stdout
    assert len(registry.versions("iris")) == 2


def test_training_help_lists_hyper_parameters():
    done = subprocess.run(
        [sys.executable, "-m", "training.titanic", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    for flag in ("--folds", "--n-estimators", "--max-depth", "--learning-rate", "--if-missing"):
        assert flag in done.stdout


def test_a_bad_titanic_url_stops_with_the_variable_named(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "training.titanic"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"TITANIC_URL": "ftp://example.org/t.csv", "DATA_DIR": str(tmp_path)},
        timeout=60,
    )
    assert done.returncode == 2
    assert "TITANIC_URL must be an https:// or file:// URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_titanic_source_names_the_setting_for_a_local_copy(tmp_path):
    """Offline, the error says that TITANIC_URL can name a local copy."""
    done = subprocess.run(
        [sys.executable, "-m", "training.titanic", "features"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"TITANIC_URL": str(tmp_path / "missing.csv"), "DATA_DIR": str(tmp_path), "MODEL_DIR": str(tmp_path)},
        timeout=60,
    )
    assert done.returncode == 2
    assert "cannot fetch" in done.stderr
    assert "set TITANIC_URL to a copy of the CSV (a path or a file:// URL)" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_models_are_listed_without_ml_imports(tmp_path, model_dir):
    """`python -m training.missing` (scripts/start.sh's check) names the models without a current version."""

    def missing(models: Path) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "training.missing", "iris", "titanic"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            env={"MODEL_DIR": str(models), "DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stderr
        assert not [line for line in done.stderr.splitlines() if line.rstrip().endswith(("| sklearn", "| xgboost"))]
        return done.stdout.split()

    assert missing(tmp_path / "empty") == ["iris", "titanic"]
    assert missing(model_dir) == []
