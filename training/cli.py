"""The command line shared by `python -m training.iris` and `python -m training.titanic`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from types import ModuleType
from typing import Any

from common.backends import feature_store, model_registry
from common.entrypoint import configure_logging
from common.settings import Settings, load_settings
from training.flags import add_options, options_from

# Builds the feature table from the settings into the store; returns a line to print.
FeatureStep = Callable[[Settings, Any], str]


def base_parser(model: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m training.{model}", description=description)
    parser.add_argument(
        "step",
        choices=["features", "train", "all"],
        nargs="?",
        default="all",
        help="features: build the feature table; train: train, evaluate and register; all: both (default)",
    )
    parser.add_argument(
        "--if-missing", action="store_true", help="do nothing when the registry already has a current version"
    )
    return parser


def run_pipelines(
    model: str, description: str, options_class: type, pipeline: ModuleType, features: FeatureStep
) -> int:
    """`python -m training.<model> [features|train|all]`: ``pipeline`` has TABLE, train() and register()."""
    parser = base_parser(model, description)
    add_options(parser, options_class)
    args = parser.parse_args()
    configure_logging()
    settings = load_settings()
    store = feature_store(settings)
    registry = model_registry(settings)
    current = registry.current(model) if args.if_missing else None
    if current:
        print(f"{model}: version {current.version} already registered")
        return 0
    if args.step in {"features", "all"}:
        print(features(settings, store))
    if args.step in {"train", "all"}:
        options = options_from(args, options_class)
        bundle, report = pipeline.train(store.read_table(pipeline.TABLE), options)
        version = pipeline.register(registry, bundle, report, options)
        folder = registry.path(model, version.version)
        print(f"{model}: {report.summary()}; registered version {version.version} ({folder / 'confusion.png'})")
    return 0
