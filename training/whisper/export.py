"""Export: a fine-tuned checkpoint -> CTranslate2, registered as the `asr` model the speech workers serve.

One registry version holds both quantizations, so that the version folder is what a worker loads
and the registry's single `current` pointer names both:

    MODEL_DIR/asr/<version>/             int8 (default; set by --quantization): model.bin, config.json,
                                         vocabulary.json, tokenizer.json, preprocessor_config.json,
                                         metadata.json -- `faster_whisper.WhisperModel(<version dir>)` loads it
    MODEL_DIR/asr/<version>/float16/     the same model in float16, for a GPU worker that prefers it

``metadata.json`` says ``extra["backend"] = "ctranslate2"``, ``extra["quantization"]`` (the root's),
``extra["variants"]`` (quantization -> subfolder) and carries the checkpoint's evaluation metrics
(``wer``, ``bleu``) when ``evaluate`` ran on it first. Registering makes the version current (unless
--no-current), which a running speech worker picks up at its next job without a restart.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from common.errors import DataError
from common.registry import LocalModelRegistry, ModelVersion
from training.whisper import REGISTRY_NAME
from training.whisper.checkpoints import newest_checkpoint
from training.whisper.evaluate import EVALUATION
from training.whisper.loading import load_processor, save_processor
from training.whisper.options import ExportOptions
from training.whisper.train import FINAL

logger = logging.getLogger(__name__)

QUANTIZATIONS = ("int8", "float16")
COPIED = ["tokenizer.json", "preprocessor_config.json"]
# Training state a conversion does not need (the optimizer alone is twice the model).
TRAINING_STATE = {"optimizer.pt", "scheduler.pt", "rng_state.pth", "scaler.pt", "trainer_state.json",
                  "training_args.bin"}


def model_folder(source: str, *, token: str | None = None) -> Path:
    """A run folder's final model (else its newest checkpoint), a checkpoint or model folder, or a Hub id."""
    path = Path(source)
    if path.is_dir():
        if (path / FINAL / "config.json").exists():
            return path / FINAL
        if (path / "config.json").exists():
            return path
        checkpoint = newest_checkpoint(path)
        if checkpoint is None:
            raise DataError(f"{path} holds no model, final/ or checkpoint-N folder")
        return checkpoint
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(source, token=token, ignore_patterns=["*.msgpack", "*.h5", "*.ot"]))


def export(
    source: str, registry: LocalModelRegistry, options: ExportOptions, *, token: str | None = None
) -> ModelVersion:
    if options.quantization not in QUANTIZATIONS:
        raise DataError(f"quantization must be one of {QUANTIZATIONS}, not {options.quantization!r}")
    folder = model_folder(source, token=token)
    other = next(q for q in QUANTIZATIONS if q != options.quantization)
    with tempfile.TemporaryDirectory(prefix="whisper-export-") as scratch:
        prepared = _with_processor(folder, Path(scratch), options.base_model, token)

        def write(directory: Path) -> None:
            _convert(prepared, directory, options.quantization)
            _convert(prepared, directory / other, other)

        version = registry.register(
            REGISTRY_NAME, write,
            metrics=_evaluation_metrics(folder),
            feature_schema=["audio: 16 kHz mono"],
            extra={
                "backend": "ctranslate2", "quantization": options.quantization, "variants": {other: other},
                "source": str(source), **_training_facts(folder),
            },
            make_current=options.current,
        )
    logger.info("registered %s version %d from %s", REGISTRY_NAME, version.version, folder)
    return version


def _with_processor(folder: Path, scratch: Path, base_model: str, token: str | None) -> Path:
    """A folder the converter can read: the model files linked, plus the processor files it copies."""
    processor_source = str(folder) if (folder / "tokenizer.json").exists() else base_model
    if not processor_source:
        raise DataError(f"{folder} has no tokenizer: name the model it was trained from with --base-model")
    for path in folder.iterdir():
        if path.is_file() and path.name not in TRAINING_STATE:
            (scratch / path.name).symlink_to(path.resolve())
    processor = load_processor(processor_source, "sv", "transcribe", token=token)
    for name in (*COPIED, "tokenizer_config.json", "processor_config.json"):
        (scratch / name).unlink(missing_ok=True)  # rewritten below, never through a link into the source
    save_processor(processor, scratch)
    return scratch


def _convert(model: Path, target: Path, quantization: str) -> None:
    from ctranslate2.converters import TransformersConverter

    logger.info("converting %s to CTranslate2 %s", model, quantization)
    TransformersConverter(str(model), copy_files=COPIED).convert(str(target), quantization=quantization, force=True)


def _evaluation_metrics(folder: Path) -> dict[str, float]:
    try:
        return {key: float(value) for key, value in json.loads((folder / EVALUATION).read_text())["metrics"].items()}
    except FileNotFoundError:
        logger.warning("%s was not evaluated: the version is registered without a WER", folder)
        return {}


def _training_facts(folder: Path) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for name in ("training.json", "trainer_state.json"):
        try:
            data = json.loads((folder / name).read_text())
        except FileNotFoundError:
            continue
        facts.setdefault("global_step", data.get("global_step"))
        for key in ("language", "task"):
            if key in data:
                facts[key] = data[key]
        if "options" in data:
            facts["base_model"] = data["options"].get("base_model")
    return facts
