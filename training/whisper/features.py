"""The feature pipeline: speech -> log-mel input features and token labels, in shards on disk.

Layout under the features folder (``DATA_DIR/whisper/features/<name>``): ``features.json`` (the
processor, language and task the shards were made with) and ``<split>/shard-NNNNN/``, each a
`datasets` folder written to a temporary name and renamed when complete. A rerun skips the shards
that exist, so an interrupted run continues where it stopped. Features are stored as float16 (half
the disk of float32; log-mel values lie in [-1, 2], where float16 keeps three decimals). The test
shards also keep each utterance's audio (16 kHz int16, about a third of its features' size):
evaluation runs the speech workers' own recognisers on it, so it scores what the workers serve.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from common.errors import DataError
from training.whisper.data import SAMPLE_RATE, SpeechSource, load_split, utterances
from training.whisper.loading import load_processor
from training.whisper.options import FeatureOptions

logger = logging.getLogger(__name__)

MANIFEST = "features.json"
FRAMES = 3000  # Whisper's 30-second window at a 10 ms hop
AUDIO = "audio"  # the test shards' column of 16 kHz int16 samples


@dataclass
class SplitReport:
    split: str
    kept: int = 0
    too_long: int = 0
    shards_written: int = 0
    shards_skipped: int = 0
    bytes: int = 0

    def summary(self) -> str:
        return (
            f"{self.split}: {self.kept} utterances kept, {self.too_long} too long dropped; "
            f"{self.shards_written} shards written, {self.shards_skipped} already there; {self.bytes / 1e6:.1f} MB"
        )


@dataclass
class Manifest:
    base_model: str
    language: str
    task: str
    n_mels: int
    source: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)
    splits: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        try:
            return cls(**json.loads((folder / MANIFEST).read_text()))
        except FileNotFoundError as exc:
            raise DataError(f"no features in {folder}: run `python -m training.whisper features` first") from exc

    def write(self, folder: Path) -> None:
        temporary = folder / f".{MANIFEST}.tmp"
        temporary.write_text(json.dumps(asdict(self), indent=2))
        temporary.replace(folder / MANIFEST)


def build_features(
    source: SpeechSource, folder: Path, options: FeatureOptions, *, token: str | None = None
) -> list[SplitReport]:
    """Write the train and test shards of ``source`` into ``folder``; finished shards are kept."""
    import datasets

    datasets.disable_progress_bars()  # one tqdm bar per split is ours; save_to_disk would add one per shard
    processor = load_processor(options.base_model, options.language, options.task, token=token)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(
        options.base_model, options.language, options.task, processor.feature_extractor.feature_size,
        {key: str(value) for key, value in asdict(source).items()}, asdict(options),
    )
    if (folder / MANIFEST).exists():
        _check_compatible(Manifest.read(folder), manifest, folder)
    manifest.write(folder)
    reports = []
    for name, split in (("train", options.train_split), ("test", options.test_split)):
        dataset = load_split(source, split, token=token)
        if name == "test" and options.test_size and len(dataset) > options.test_size:
            dataset = dataset.shuffle(seed=options.seed).select(range(options.test_size))
        report = _build_split(dataset, source, processor, folder / name, options, name)
        manifest.splits[name] = {"utterances": report.kept, "too_long": report.too_long}
        manifest.write(folder)
        reports.append(report)
    return reports


def load_shards(folder: Path, split: str) -> Any:
    """All finished shards of a split as one memory-mapped dataset with numpy arrays."""
    import datasets

    shards = sorted(path for path in (folder / split).glob("shard-*") if path.is_dir())
    if not shards:
        raise DataError(f"no {split} shards in {folder}: run `python -m training.whisper features` first")
    dataset = datasets.concatenate_datasets([datasets.load_from_disk(str(path)) for path in shards])
    return dataset.with_format("numpy")


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _build_split(
    dataset: Any, source: SpeechSource, processor: Any, folder: Path, options: FeatureOptions, name: str
) -> SplitReport:
    folder.mkdir(parents=True, exist_ok=True)
    report = SplitReport(name)
    total = len(dataset)
    with tqdm(total=total, desc=f"features {name}", unit="utt") as bar:
        for number, start in enumerate(range(0, total, options.shard_size)):
            rows = dataset.select(range(start, min(total, start + options.shard_size)))
            target = folder / f"shard-{number:05d}"
            if target.is_dir():
                report.shards_skipped += 1
                report.kept += _rows_in(target)
            else:
                records, too_long = _encode(rows, source, processor, options, keep_audio=name == "test")
                _write_shard(records, target, processor.feature_extractor.feature_size)
                report.shards_written += 1
                report.kept += len(records["labels"])
                report.too_long += too_long
            bar.update(len(rows))
    report.bytes = folder_bytes(folder)
    return report


def _encode(
    rows: Any, source: SpeechSource, processor: Any, options: FeatureOptions, *, keep_audio: bool = False
) -> tuple[dict[str, list[Any]], int]:
    records: dict[str, list[Any]] = {"input_features": [], "labels": [], "text": [], "translation": [], "seconds": []}
    if keep_audio:
        records[AUDIO] = []
    too_long = 0
    for utterance in utterances(rows, source):
        seconds = len(utterance.audio) / SAMPLE_RATE
        labels = processor.tokenizer(utterance.text).input_ids
        if seconds > options.max_seconds or len(labels) > options.max_label_tokens:
            too_long += 1
            continue
        features = processor.feature_extractor(utterance.audio, sampling_rate=SAMPLE_RATE).input_features[0]
        records["input_features"].append(np.asarray(features, dtype=np.float16))
        records["labels"].append(labels)
        records["text"].append(utterance.text)
        records["translation"].append(utterance.translation or "")
        records["seconds"].append(seconds)
        if keep_audio:
            records[AUDIO].append(np.round(np.clip(utterance.audio, -1.0, 1.0) * 32767).astype(np.int16))
    return records, too_long


def _write_shard(records: dict[str, list[Any]], target: Path, n_mels: int) -> None:
    import datasets

    schema = datasets.Features({
        "input_features": datasets.Array2D(shape=(n_mels, FRAMES), dtype="float16"),
        "labels": datasets.List(datasets.Value("int32")),
        "text": datasets.Value("string"),
        "translation": datasets.Value("string"),
        "seconds": datasets.Value("float32"),
        **({AUDIO: datasets.List(datasets.Value("int16"))} if AUDIO in records else {}),
    })
    temporary = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    datasets.Dataset.from_dict(records, features=schema).save_to_disk(str(temporary))
    temporary.rename(target)


def _rows_in(shard: Path) -> int:
    import datasets

    return datasets.load_from_disk(str(shard)).num_rows


def _check_compatible(existing: Manifest, wanted: Manifest, folder: Path) -> None:
    # Shards are kept by number, so anything that changes which utterances a shard holds must match.
    before = {"source": existing.source, "n_mels": existing.n_mels, **existing.options}
    now = {"source": wanted.source, "n_mels": wanted.n_mels, **wanted.options}
    for key in sorted(set(before) | set(now)):
        if before.get(key) != now.get(key):
            raise DataError(
                f"{folder} holds features made with {key}={before.get(key)!r}, not {now.get(key)!r}: "
                "choose another --features name or delete the folder"
            )
