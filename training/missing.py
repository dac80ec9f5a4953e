"""python -m training.missing NAME...: print each named model that has no current version.

A check for scripts/start.sh that imports no ML library: ``python -m training.iris --if-missing``
answers the same, but only after seconds of importing scikit-learn, XGBoost and pandas.
"""

from __future__ import annotations

import argparse

from common.backends import model_registry
from common.entrypoint import run
from common.settings import load_settings


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m training.missing", description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="NAME")
    args = parser.parse_args()
    registry = model_registry(load_settings())
    for name in args.models:
        if registry.current_version_number(name) is None:
            print(name)
    return 0


if __name__ == "__main__":
    run(main, "training.missing")
