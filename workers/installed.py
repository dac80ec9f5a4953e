"""One value per worker process, installed by the entry point before work starts, read by the jobs.

RQ calls job functions by dotted path with only their payload, so what a job needs of the process
(the model caches, the speech runtime) is installed here once rather than passed in.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from common.errors import StartupError

T = TypeVar("T")


class Installed(Generic[T]):
    def __init__(self, what: str) -> None:
        self.what = what  # named in the error when a job runs outside `python -m workers`
        self._value: T | None = None

    def install(self, value: T) -> None:
        self._value = value

    def current(self) -> T:
        if self._value is None:
            raise StartupError(f"the {self.what} was not installed: start workers with `python -m workers`")
        return self._value
