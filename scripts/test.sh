#!/usr/bin/env bash
# Run the test suite on a fresh clone: creates .venv if missing, installs syncd with its test
# extra, then runs pytest with any arguments given (e.g. scripts/test.sh -k emulator).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
exec .venv/bin/python -m pytest "$@"
