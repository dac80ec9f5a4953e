#!/usr/bin/env bash
# Mutation testing of one critical module (targets: [tool.mutation.targets] in pyproject.toml), e.g.
#   scripts/mutation.sh limits
# Runs mutmut in a copy of the tree under build/mutation/<target>/; not part of the default test run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/mutation.py "$@"
