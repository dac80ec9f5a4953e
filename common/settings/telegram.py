"""The Telegram bot: token, API server, webhook mode."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator, model_validator

from common.settings.base import Area, check_http_url, check_secret, host_port


class TelegramSettings(Area):
    TELEGRAM_TOKEN: SecretStr | None = None
    TELEGRAM_API_URL: str = "https://api.telegram.org/bot"
    # A local Bot API server (telegram-bot-api --local) at TELEGRAM_API_URL: files bigger than the
    # cloud's 20 MB download limit, read from that server's disk.
    TELEGRAM_LOCAL_MODE: bool = False
    # Webhook mode (URL unset: long polling): the public https URL Telegram posts to, the host:port
    # this process listens on behind the reverse proxy, and the secret Telegram sends with each post.
    TELEGRAM_WEBHOOK_URL: str | None = None
    TELEGRAM_WEBHOOK_LISTEN: str = "127.0.0.1:8443"
    TELEGRAM_WEBHOOK_SECRET: SecretStr | None = None

    @field_validator("TELEGRAM_WEBHOOK_URL")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme != "https" or not parts.hostname or port not in {None, 443, 80, 88, 8443}:
            raise ValueError("must be an https:// URL on port 443, 80, 88 or 8443 (Telegram posts to no other)")
        return value

    @field_validator("TELEGRAM_WEBHOOK_LISTEN")
    @classmethod
    def _listen_address(cls, value: str) -> str:
        if host_port(value) is None:
            raise ValueError("must be host:port, e.g. 127.0.0.1:8443 or 0.0.0.0:8443")
        return value

    @field_validator("TELEGRAM_WEBHOOK_SECRET")
    @classmethod
    def _secret_token(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's rule for secret_token; the message must never echo the value.
        return check_secret(
            value, r"[A-Za-z0-9_-]{1,256}", "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (and not a placeholder)"
        )

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramSettings:
        if self.TELEGRAM_WEBHOOK_URL and self.TELEGRAM_WEBHOOK_SECRET is None:
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL: without it anyone who finds "
                "the URL can post updates (e.g. the output of: openssl rand -hex 32)"
            )
        return self

    @property
    def webhook_listen(self) -> tuple[str, int]:
        address = host_port(self.TELEGRAM_WEBHOOK_LISTEN)
        assert address is not None  # checked above
        return address

    @field_validator("TELEGRAM_LOCAL_MODE", mode="before")
    @classmethod
    def _true_or_false(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() not in {"true", "false", "1", "0", "yes", "no"}:
            raise ValueError("must be true or false")
        return value

    @field_validator("TELEGRAM_TOKEN")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # The error message must never echo the token itself.
        return check_secret(
            value,
            r"\d{3,}:[A-Za-z0-9_-]{20,}",
            "is not a Telegram bot token (expected <digits>:<secret>, from @BotFather)",
        )

    @field_validator("TELEGRAM_API_URL")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_http_url(value)
