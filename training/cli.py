"""The command line shared by `python -m training.iris` and `python -m training.titanic`."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any


def add_options(parser: argparse.ArgumentParser, options_class: type) -> None:
    """One flag per field of an options dataclass, with its default."""
    for option in fields(options_class):
        parser.add_argument(
            f"--{option.name.replace('_', '-')}",
            type=type(option.default),
            default=option.default,
            help=f"default: {option.default}",
        )


def options_from(args: argparse.Namespace, options_class: type) -> Any:
    return options_class(**{option.name: getattr(args, option.name) for option in fields(options_class)})


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
