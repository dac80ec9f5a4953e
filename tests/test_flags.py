"""training/flags.py: the one dataclass -> argparse helper of the training entry points."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from training.flags import add_options, options_from
from training.whisper.options import ExportOptions


@dataclass(frozen=True)
class Knobs:
    shuffle: bool = True
    cache: bool = False
    rounds: int = 3
    rate: float = 0.5
    mode: str = "fast"


def parsed(*argv: str) -> Knobs:
    parser = argparse.ArgumentParser()
    add_options(parser, Knobs, {"mode": ["fast", "slow"]})
    return options_from(parser.parse_args(list(argv)), Knobs)


def test_booleans_are_switched_by_name_not_by_any_text():
    """`--no-shuffle` is False and `--cache` True; "--shuffle False" is refused, not read as True."""
    assert parsed() == Knobs()
    assert parsed("--no-shuffle", "--cache") == Knobs(shuffle=False, cache=True)
    with pytest.raises(SystemExit):
        parsed("--shuffle", "False")


def test_numbers_and_choices_keep_their_types_and_limits():
    assert parsed("--rounds", "7", "--rate", "0.25", "--mode", "slow") == Knobs(rounds=7, rate=0.25, mode="slow")
    with pytest.raises(SystemExit):
        parsed("--mode", "medium")
    with pytest.raises(SystemExit):
        parsed("--rounds", "many")


def test_whisper_export_no_current_reaches_the_options():
    """The flag behind `training.whisper export --no-current` (which must not switch the workers)."""
    from training.whisper.__main__ import _parser

    args = _parser().parse_args(["export", "--no-current"])
    assert options_from(args, ExportOptions).current is False
    assert options_from(_parser().parse_args(["export"]), ExportOptions).current is True
