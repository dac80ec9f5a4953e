#!/usr/bin/env bash
# Install the project into .venv and run the main job on the embedded defaults:
# an embedded redis-server, one worker and the console bot (no tokens needed).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
export PATH="$PWD/.venv/bin:$PATH"
python -m training.iris --if-missing
python -m training.titanic --if-missing
python -m workers &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT
python -m bot console
