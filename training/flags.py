"""Command-line flags from an options dataclass, one per field, and the dataclass back from them.

Shared by every `python -m training.*` entry point. A bool field becomes `--name` / `--no-name`:
argparse's ``type=bool`` would read any non-empty text, "False" included, as True.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import TypeVar

T = TypeVar("T")


def add_options(
    parser: argparse.ArgumentParser, options_class: type, choices: Mapping[str, Sequence[str]] | None = None
) -> None:
    """One flag per field of ``options_class``, with its default; ``choices`` limits fields by name."""
    for option in fields(options_class):
        flag = f"--{option.name.replace('_', '-')}"
        if isinstance(option.default, bool):
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=option.default, help="default: %(default)s"
            )
        else:
            parser.add_argument(
                flag,
                type=type(option.default),
                default=option.default,
                choices=(choices or {}).get(option.name),
                help="default: %(default)s",
            )


def options_from(args: argparse.Namespace, options_class: type[T]) -> T:
    return options_class(**{option.name: getattr(args, option.name) for option in fields(options_class)})  # type: ignore[arg-type]
