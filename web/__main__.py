"""python -m web [--check]: the Gradio front end on uvicorn, at WEB_LISTEN."""

from __future__ import annotations

import argparse
import logging
import os

from common.entrypoint import configure_logging, run

logger = logging.getLogger("web")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m web", description="Serve the web front end of the ML jobs.")
    parser.add_argument("--check", action="store_true",
                        help="check the settings, WEB_USERS and Redis, print the result and exit")
    args = parser.parse_args()
    # Before gradio is imported: no usage reports leave the machine.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    configure_logging()
    from web.wiring import build, serve

    built = build()
    if args.check:
        print(f"web: ok; would serve {built.url}")
        return 0
    return serve(built)


if __name__ == "__main__":
    run(main, "web")
