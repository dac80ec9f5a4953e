"""The picture sent with each prediction: the model's own drawing (models/), as PNG bytes.

matplotlib without pyplot (Figure objects only): safe in any thread.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")

from common.jobs import PredictionResult
from models import MODELS


def render(result: PredictionResult, bundle: Mapping[str, Any]) -> bytes:
    figure = MODELS[result.model].picture(result, bundle)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
