#!/usr/bin/env bash
# Install the project with its test and speech extras into .venv and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,speech]"
exec .venv/bin/python -m pytest "$@"
