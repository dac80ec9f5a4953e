"""Offline training."""

from __future__ import annotations

import re

from pydantic import SecretStr, field_validator

from common.settings.base import Area, is_placeholder


class TrainingSettings(Area):
    """Offline training. HF_TOKEN (a Hugging Face access token) enables pushing checkpoints to the Hub."""

    HF_TOKEN: SecretStr | None = None

    @field_validator("HF_TOKEN")
    @classmethod
    def _hub_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # The error message must never echo the token itself.
        if value is not None and (
            is_placeholder(value.get_secret_value())
            or not re.fullmatch(r"hf_[A-Za-z0-9]{20,}", value.get_secret_value())
        ):
            raise ValueError("is not a Hugging Face access token (hf_..., from huggingface.co/settings/tokens)")
        return value
