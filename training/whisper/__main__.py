"""python -m training.whisper {features,train,evaluate,export}: fine-tune Whisper and hand it to the workers.

Paths default to DATA_DIR/whisper/features/<name> (shards), DATA_DIR/whisper/runs/<name> (checkpoints
and the final model) and MODEL_DIR/asr (the registry), so the four steps chain without flags.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from common.entrypoint import configure_logging, run
from common.errors import SettingsError
from common.installs import require_speech_extra
from common.settings import Settings, load_settings
from training.flags import add_options, options_from
from training.whisper.options import EvaluateOptions, ExportOptions, FeatureOptions, TrainOptions

DEFAULT_FEATURES = "common_voice"
CHOICES = {
    "precision": ["auto", "fp16", "bf16", "fp32"],
    "quantization": ["int8", "float16"],
    "device": ["auto", "cpu", "cuda"],
    "task": ["transcribe", "translate"],
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "config", None):
        # Parsed again with the file's values as defaults: flags on the command line still win.
        args = _parser(_read_config(args.config, TrainOptions)).parse_args(argv)
    # Every step needs torch, transformers or datasets: one line, not a ModuleNotFoundError traceback.
    require_speech_extra(f"the {args.step} step")
    configure_logging()
    settings = load_settings()
    token = settings.training.HF_TOKEN.get_secret_value() if settings.training.HF_TOKEN else None
    return int(args.handler(args, settings, token) or 0)


def _run_features(args: argparse.Namespace, settings: Settings, token: str | None) -> int:
    from training.whisper.data import SpeechSource
    from training.whisper.features import build_features

    source = SpeechSource(args.dataset, args.config_name, args.text_column, args.audio_column, args.translation_column)
    name = args.features or _name_of(args.dataset)
    folder = _features_folder(settings, name)
    for report in build_features(source, folder, options_from(args, FeatureOptions), token=token):
        print(report.summary())
    if args.hub_dataset:
        from training.whisper.hub import upload_features

        print(f"uploaded to {upload_features(folder, args.hub_dataset, token=token)}")
    print(f"features in {folder}; train with: python -m training.whisper train --features {name}")
    return 0


def _run_train(args: argparse.Namespace, settings: Settings, token: str | None) -> int:
    from training.whisper.train import train

    options = options_from(args, TrainOptions)
    if options.hub_model_id and token is None:
        print("HF_TOKEN is not set: checkpoints stay local (no push to the Hub)", file=sys.stderr)
    report = train(_local_features(settings, args, token), _training_run(settings, args), options, token=token)
    print(
        f"trained from step {report.resumed_from} to step {report.global_step} in {report.seconds:.0f} s "
        f"({report.steps_per_second:.2f} steps/s); model in {report.model}"
    )
    return 0


def _run_evaluate(args: argparse.Namespace, settings: Settings, token: str | None) -> int:
    from common.registry import LocalModelRegistry
    from training.whisper.evaluate import evaluate, record, resolve, side_by_side

    registry = LocalModelRegistry(settings.storage.MODEL_DIR)
    features = _local_features(settings, args, token)
    evaluations = []
    for reference in [args.model or str(_training_run(settings, args) / "final"), *(args.compare or [])]:
        evaluation = evaluate(resolve(reference, registry), features, options_from(args, EvaluateOptions))
        evaluations.append(evaluation)
        if Path(evaluation.model.location).is_dir():
            print(f"{evaluation.model.label}: metrics written to {record(evaluation, registry, features)}")
        for reference_text, hypothesis in evaluation.examples:
            print(f"  reference: {reference_text}\n  heard:     {hypothesis}")
    print(side_by_side(evaluations))
    return 0


def _run_export(args: argparse.Namespace, settings: Settings, token: str | None) -> int:
    from common.registry import LocalModelRegistry
    from training.whisper.export import export

    registry = LocalModelRegistry(settings.storage.MODEL_DIR)
    registry.check_writable()
    source = args.model or str(_training_run(settings, args))
    version = export(source, registry, options_from(args, ExportOptions), token=token)
    state = "current" if args.current else "not current (set it with the registry)"
    print(f"registered asr version {version.version} ({state}) in {registry.path('asr', version.version)}; "
          f"metrics {version.metrics or 'none: run evaluate before export'}")
    return 0


def _parser(train_defaults: dict[str, Any] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.whisper", description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)

    features = steps.add_parser("features", help="dataset -> log-mel features and labels in shards (CPU)")
    features.add_argument("--dataset", default=DEFAULT_FEATURES,
                          help="common_voice, fleurs, a Hub dataset id, or a local folder (default: %(default)s)")
    features.add_argument("--config-name", default="", help="the dataset's config, e.g. sv-SE (default: per dataset)")
    features.add_argument("--text-column", default="", help="default: sentence, transcription or text")
    features.add_argument("--audio-column", default="audio", help="default: %(default)s")
    features.add_argument("--translation-column", default="", help="English references, for BLEU (default: none)")
    features.add_argument("--features", default="", help="name or folder of the output (default: from --dataset)")
    features.add_argument("--hub-dataset", metavar="REPO", help="also upload the features there (needs HF_TOKEN)")
    add_options(features, FeatureOptions, CHOICES)
    features.set_defaults(handler=_run_features)

    train = steps.add_parser("train", help="fine-tune with checkpoints; rerun the same command to resume (GPU)")
    _add_paths(train)
    _add_hub_dataset(train)
    train.add_argument("--config", help="a .json or .toml file of the options below (flags override it)")
    add_options(train, TrainOptions, CHOICES)
    train.set_defaults(handler=_run_train, **(train_defaults or {}))

    evaluate = steps.add_parser("evaluate", help="WER (and BLEU) on the test shards, written to the model's metadata")
    _add_paths(evaluate)
    _add_hub_dataset(evaluate)
    evaluate.add_argument("--model", help="a folder, Hub id or asr:<version>|asr:current (default: the run's final/)")
    evaluate.add_argument("--compare", action="append", metavar="MODEL", help="another model, shown side by side")
    add_options(evaluate, EvaluateOptions, CHOICES)
    evaluate.set_defaults(handler=_run_evaluate)

    export = steps.add_parser("export", help="convert to CTranslate2 (int8 + float16) and register as 'asr'")
    _add_paths(export)
    export.add_argument("--model", help="a run or checkpoint folder or a Hub id (default: the run folder)")
    add_options(export, ExportOptions, CHOICES)
    export.set_defaults(handler=_run_export)
    return parser


def _add_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--features", default=DEFAULT_FEATURES,
                        help="name or folder of the features (default: %(default)s)")
    parser.add_argument("--output-dir", help="the run folder (default: DATA_DIR/whisper/runs/<features name>)")


def _add_hub_dataset(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hub-dataset", metavar="REPO",
                        help="download the features from this Hub dataset when they are not here yet")


def _read_config(path: str, options: type) -> dict[str, Any]:
    file = Path(path)
    try:
        values = tomllib.loads(file.read_text()) if file.suffix == ".toml" else json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise SettingsError(f"--config {path} cannot be read: {exc}") from exc
    known = {option.name for option in fields(options)}
    values = {key.replace("-", "_"): value for key, value in values.items()}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(f"--config {path} has unknown options {unknown}; known: {sorted(known)}")
    return values


def _local_features(settings: Settings, args: argparse.Namespace, token: str | None) -> Path:
    """The features folder; with --hub-dataset, downloaded first when it is not here yet."""
    folder = _features_folder(settings, args.features)
    if args.hub_dataset:
        from training.whisper.hub import ensure_features

        ensure_features(folder, args.hub_dataset, token=token)
    return folder


def _features_folder(settings: Settings, name: str) -> Path:
    path = Path(name)
    if path.is_absolute() or path.is_dir():
        return path
    return settings.storage.DATA_DIR / "whisper" / "features" / name


def _training_run(settings: Settings, args: argparse.Namespace) -> Path:
    if args.output_dir:
        return Path(args.output_dir)
    return settings.storage.DATA_DIR / "whisper" / "runs" / Path(args.features).name


def _name_of(dataset: str) -> str:
    return Path(dataset).name if Path(dataset).is_dir() else dataset.replace("/", "-")


if __name__ == "__main__":
    run(main, "training.whisper")
