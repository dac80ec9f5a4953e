"""What every `python -m ...` entry point does first: logging, and one readable line on failure."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from common.errors import ProjectError


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # httpx logs every request URL, and a Telegram URL holds the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def run(main: Callable[[], int | None], program: str) -> None:
    """Run ``main``; a ProjectError (bad setting, Redis unreachable, ...) exits with one line, no traceback."""
    try:
        code = main()
    except ProjectError as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code or 0)
