"""Synthetic samples with a known label, drawn from the training data: the daily monitoring's input.

Each model draws its own (``synthesise`` of models/<name>.py: Iris from per-species normal
distributions, Titanic from the survivors' and victims' passengers). Everything draws from the
``numpy.random.Generator`` it is given, and a round's generator is seeded by model and round, so a
re-run of a round draws the same samples.
"""

from __future__ import annotations

import logging
import zlib

import numpy as np
import pandas as pd

from models import MODELS, Sample

logger = logging.getLogger(__name__)

__all__ = ["Sample", "round_rng", "synthesise"]


def round_rng(model: str, round_id: str, seed: int = 0) -> np.random.Generator:
    """The generator of one model's round: a re-run of the same round draws the same samples."""
    return np.random.default_rng([seed, zlib.crc32(f"{model}:{round_id}".encode())])


def synthesise(model: str, table: pd.DataFrame, count: int, rng: np.random.Generator) -> list[Sample]:
    """The model's own draw (each model's module says how it draws)."""
    if model not in MODELS:
        raise ValueError(f"no synthesis for model {model!r}")
    return MODELS[model].synthesise(table, count, rng)
