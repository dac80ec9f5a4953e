"""Where the speech comes from: a Hugging Face dataset or a local folder, as (16 kHz audio, text) pairs.

Audio is read with soundfile and resampled with scipy instead of through ``datasets``' own decoding,
which needs torchcodec and FFmpeg libraries at run time; soundfile reads WAV, FLAC, OGG and MP3.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import DataError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
# Short names for the datasets the lab considered: (Hub id, config, text column).
KNOWN_DATASETS = {
    "common_voice": ("mozilla-foundation/common_voice_11_0", "sv-SE", "sentence"),
    "fleurs": ("google/fleurs", "sv_se", "transcription"),
}
TEXT_COLUMNS = ("sentence", "transcription", "text", "raw_transcription", "normalized_text")


@dataclass(frozen=True)
class SpeechSource:
    """A dataset: a name from KNOWN_DATASETS, a Hub id, or a local folder with one subfolder per split
    (train/, test/, ...), each holding audio files and a metadata.csv of file_name and the text."""

    dataset: str
    config: str = ""
    text_column: str = ""
    audio_column: str = "audio"
    translation_column: str = ""  # an English reference, for BLEU of the translate task

    def resolved(self) -> SpeechSource:
        if self.dataset in KNOWN_DATASETS:
            hub_id, config, text = KNOWN_DATASETS[self.dataset]
            return SpeechSource(hub_id, self.config or config, self.text_column or text,
                                self.audio_column, self.translation_column)
        return self


@dataclass(frozen=True)
class Utterance:
    audio: np.ndarray  # float32, mono, 16 kHz
    text: str
    translation: str | None


def load_split(source: SpeechSource, split: str, *, token: str | None = None) -> Any:
    """The split as a `datasets.Dataset` whose audio column is left undecoded (path and bytes)."""
    import datasets

    source = source.resolved()
    local = Path(source.dataset)
    try:
        if local.is_dir():
            dataset = _local_split(local, split, source.audio_column)
        else:
            dataset = datasets.load_dataset(source.dataset, source.config or None, split=split, token=token)
    except (FileNotFoundError, ValueError, ConnectionError, RuntimeError) as exc:
        # Gated sets (Common Voice) need their terms accepted on the Hub and HF_TOKEN; datasets 4+
        # no longer runs loading scripts, so a script-only repository fails here too.
        raise DataError(f"cannot load split {split!r} of {source.dataset}: {exc}") from exc
    if source.audio_column not in dataset.column_names:
        raise DataError(f"{source.dataset} has no audio column {source.audio_column!r}: {dataset.column_names}")
    if isinstance(dataset.features[source.audio_column], datasets.Audio):
        dataset = dataset.cast_column(source.audio_column, datasets.Audio(decode=False))
    return dataset


def _local_split(folder: Path, split: str, audio_column: str) -> Any:
    """Rows of ``<folder>/<part>/metadata.csv`` for each part of ``split`` ("train+validation")."""
    import datasets

    rows: list[dict[str, Any]] = []
    for part in split.split("+"):
        table = folder / part / "metadata.csv"
        if not table.is_file():
            raise DataError(f"{folder} has no split {part!r}: {table} is missing")
        with table.open(newline="") as file:
            for row in csv.DictReader(file):
                name = row.pop("file_name", None)
                if not name:
                    raise DataError(f"{table} needs a file_name column")
                rows.append({audio_column: {"path": str(folder / part / name), "bytes": None}, **row})
    if not rows:
        raise DataError(f"split {split!r} of {folder} is empty")
    return datasets.Dataset.from_list(rows)


def text_column(source: SpeechSource, columns: list[str]) -> str:
    resolved = source.resolved()
    if resolved.text_column:
        if resolved.text_column not in columns:
            raise DataError(f"{source.dataset} has no text column {resolved.text_column!r}: {columns}")
        return resolved.text_column
    for name in TEXT_COLUMNS:
        if name in columns:
            return name
    raise DataError(f"{source.dataset} has none of the text columns {TEXT_COLUMNS}; name one with --text-column")


def utterances(dataset: Any, source: SpeechSource) -> Iterator[Utterance]:
    """Each row decoded to 16 kHz mono float32, with its text."""
    text = text_column(source, dataset.column_names)
    translation = source.translation_column or None
    for row in dataset:
        yield Utterance(
            audio=decode_audio(row[source.audio_column]),
            text=str(row[text]).strip(),
            translation=str(row[translation]).strip() if translation else None,
        )


def decode_audio(cell: dict[str, Any]) -> np.ndarray:
    import soundfile

    data = cell.get("bytes")
    try:
        samples, rate = soundfile.read(io.BytesIO(data) if data else cell["path"], dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise DataError(f"cannot decode audio {cell.get('path')}: {exc}") from exc
    return resample(samples.mean(axis=1), rate)


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return samples.astype(np.float32)
    from scipy.signal import resample_poly

    divisor = gcd(rate, SAMPLE_RATE)
    return resample_poly(samples, SAMPLE_RATE // divisor, rate // divisor).astype(np.float32)
