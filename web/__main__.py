"""python -m web [--check | --url]: the Gradio front end on uvicorn, at WEB_LISTEN."""

from __future__ import annotations

import argparse
import logging
import os

from common.entrypoint import configure_logging, run

logger = logging.getLogger("web")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m web", description="Serve the web front end of the ML jobs.")
    parser.add_argument("--check", action="store_true",
                        help="check the settings, WEB_USERS and Redis, print the result and exit "
                        "(non-zero when something is not usable)")
    parser.add_argument("--url", action="store_true", help="print the URL it serves (from WEB_LISTEN) and exit")
    args = parser.parse_args()
    if args.check:
        from web.health import check

        return check()
    from common.settings import load_settings

    settings = load_settings()
    if args.url:
        print(settings.web.url)
        return 0
    # Before gradio is imported: no usage reports leave the machine.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    configure_logging()
    from web.wiring import build, serve

    return serve(build(settings))


if __name__ == "__main__":
    run(main, "web")
