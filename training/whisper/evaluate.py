"""Evaluation: WER of transcription and, where English references exist, BLEU of translation.

The test utterances' audio goes through the speech workers' own recognisers (workers/speech/backends:
the same decoding, silence check and loop fallback), so a fine-tuned checkpoint (transformers) and
its CTranslate2 export score what the workers would answer.

A model is named by a folder (a training run's ``final/`` or a checkpoint), a Hub id, or a registry
version (``asr:3``, ``asr:current``). The metrics go to the model's metadata: ``evaluation.json``
in a folder, ``metrics`` in a registry version's ``metadata.json`` (where ``export`` also copies
them from the folder it converts).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from common.errors import DataError
from common.registry import METADATA, LocalModelRegistry
from training.whisper import REGISTRY_NAME
from training.whisper.features import AUDIO, Manifest, load_shards
from training.whisper.metrics import bleu, word_error_rate
from training.whisper.options import EvaluateOptions
from workers.speech.backends import Recogniser, resolve_device
from workers.speech.backends.decoding import DecodeOptions
from workers.speech.models import ModelSource, load_recogniser

logger = logging.getLogger(__name__)

EVALUATION = "evaluation.json"


@dataclass(frozen=True)
class ModelRef:
    label: str
    location: str  # a folder or a Hub id
    registry_version: int | None = None


@dataclass(frozen=True)
class Evaluation:
    model: ModelRef
    metrics: dict[str, float]
    examples: list[tuple[str, str]]  # (reference, hypothesis), the first few


def resolve(reference: str, registry: LocalModelRegistry) -> ModelRef:
    name, _, version = reference.partition(":")
    if name == REGISTRY_NAME and version:
        number = registry.current_version_number(name) if version == "current" else _number(version)
        if number is None:
            raise DataError(f"the registry has no current {name} model")
        registry.get(name, number)  # fails clearly when the version is missing
        return ModelRef(f"{name}:{number}", str(registry.path(name, number)), number)
    return ModelRef(reference, reference)


def evaluate(model: ModelRef, features: Path, options: EvaluateOptions) -> Evaluation:
    """Hub ids are fetched by huggingface_hub, which reads HF_TOKEN itself."""
    manifest = Manifest.read(features)
    test = load_shards(features, "test")
    if AUDIO not in test.column_names:
        raise DataError(
            f"the test shards in {features} hold no audio (made before evaluation ran on it): delete "
            f"{features / 'test'} and run `python -m training.whisper features` again (train shards are kept)"
        )
    if options.limit and len(test) > options.limit:
        test = test.select(range(options.limit))
    recogniser = open_recogniser(model.location, options)
    references = [str(text) for text in test["text"]]
    transcripts = _run(recogniser, test, manifest.language, "transcribe", options, model.label)
    metrics = {
        "wer": word_error_rate(references, transcripts),
        "wer_raw": word_error_rate(references, transcripts, normalised=False),
        "test_utterances": float(len(references)),
    }
    translations = [str(text) for text in test["translation"]]
    if any(translations):
        english = _run(recogniser, test, manifest.language, "translate", options, model.label)
        metrics["bleu"] = bleu(translations, english)
    return Evaluation(model, metrics, list(zip(references, transcripts, strict=True))[:3])


def record(evaluation: Evaluation, registry: LocalModelRegistry, features: Path) -> Path:
    """Write the metrics into the model's metadata; returns the file written."""
    if evaluation.model.registry_version is not None:
        return _update_registry_metrics(registry, evaluation.model.registry_version, evaluation.metrics)
    folder = Path(evaluation.model.location)
    if not folder.is_dir():
        raise DataError(f"{evaluation.model.label} is not a local folder: its metrics are only printed")
    target = folder / EVALUATION
    payload = {
        "metrics": evaluation.metrics, "features": str(features),
        "evaluated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _write_atomically(target, payload)
    return target


def side_by_side(evaluations: list[Evaluation]) -> str:
    names = sorted({key for evaluation in evaluations for key in evaluation.metrics})
    width = max(14, *(len(evaluation.model.label) for evaluation in evaluations))
    lines = ["metric".ljust(16) + "".join(e.model.label.rjust(width + 2) for e in evaluations)]
    for name in names:
        cells = [f"{e.metrics[name]:.2f}" if name in e.metrics else "-" for e in evaluations]
        lines.append(name.ljust(16) + "".join(cell.rjust(width + 2) for cell in cells))
    return "\n".join(lines)


def open_recogniser(location: str, options: EvaluateOptions) -> Recogniser:
    """The workers' recogniser for a folder or Hub id: a folder with model.bin is a CTranslate2 export."""
    backend = "ctranslate2" if (Path(location) / "model.bin").is_file() else "transformers"
    device = resolve_device(options.device, torch_too=backend == "transformers")
    decoding = DecodeOptions(
        beam_size=options.beam_size, batch_size=options.batch_size, max_new_tokens=options.max_length
    )
    return load_recogniser(ModelSource(location, location, backend), device, options=decoding)


def _run(
    recogniser: Recogniser, test: Any, language: str, task: str, options: EvaluateOptions, label: str
) -> list[str]:
    texts: list[str] = []
    for start in tqdm(range(0, len(test), options.batch_size), desc=f"{task} {label}", unit="batch"):
        rows = test[start : start + options.batch_size]
        pieces = [np.asarray(samples, dtype=np.float32) / 32767 for samples in rows[AUDIO]]
        found = recogniser.recognise_batch(pieces, language=language, task=task)
        texts.extend(" ".join(segment.text.strip() for segment in segments).strip() for segments in found)
    return texts


def _update_registry_metrics(registry: LocalModelRegistry, version: int, metrics: dict[str, float]) -> Path:
    entry = registry.get(REGISTRY_NAME, version)
    updated = dataclasses.replace(entry, metrics={**entry.metrics, **metrics})
    target = registry.path(REGISTRY_NAME, version) / METADATA
    _write_atomically(target, dataclasses.asdict(updated))
    return target


def _write_atomically(target: Path, payload: dict[str, Any]) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-")
    with os.fdopen(handle, "w") as file:
        json.dump(payload, file, indent=2)
    os.replace(temporary, target)


def _number(text: str) -> int:
    if not text.isdigit():
        raise DataError(f"{text!r} is not a version number (e.g. asr:3 or asr:current)")
    return int(text)
