"""Offline training."""

from __future__ import annotations

from pydantic import SecretStr, field_validator

from common.settings.base import Area, check_secret


class TrainingSettings(Area):
    """Offline training. HF_TOKEN (a Hugging Face access token) enables pushing checkpoints to the Hub."""

    HF_TOKEN: SecretStr | None = None

    @field_validator("HF_TOKEN")
    @classmethod
    def _hub_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # The error message must never echo the token itself.
        return check_secret(
            value,
            r"hf_[A-Za-z0-9]{20,}",
            "is not a Hugging Face access token (hf_..., from huggingface.co/settings/tokens)",
        )
