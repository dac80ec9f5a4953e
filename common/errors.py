"""The project's exceptions.

ProjectError
├── SettingsError      a setting is missing or malformed; the process stops at start
├── StartupError       a dependency (Redis, a model, a directory) is not usable at start
├── UserError          the user asked for something we refuse; its text is the reply
│   ├── BadCommand     unparsable or invalid command
│   ├── VideoRejected  link or video not accepted
│   └── Busy           rate limit or queue length reached
└── DataError          a dataset or model file is missing, corrupt or fails its checksum
"""

from __future__ import annotations


class ProjectError(Exception):
    """Base of every error this project raises on purpose."""


class SettingsError(ProjectError):
    pass


class StartupError(ProjectError):
    pass


class UserError(ProjectError):
    """An error whose message is written for the chat user."""


class BadCommand(UserError):
    pass


class VideoRejected(UserError):
    def __init__(self, message: str, *, buttons: list[list[str]] | None = None) -> None:
        super().__init__(message)
        self.buttons = buttons or []  # [label, action] under the refusal (bot/presses.py)


class Busy(UserError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DataError(ProjectError):
    pass
