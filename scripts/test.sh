#!/usr/bin/env bash
# Run the test suite on a fresh clone: creates .venv if missing, installs syncd with its test
# extra (again only when pyproject.toml changed since: a copy of it is kept in .venv), then runs
# pytest in parallel workers (pytest-xdist; SYNCD_TEST_WORKERS, default auto: one per core) with
# any arguments given (e.g. scripts/test.sh -k emulator; -n 0 runs in this process).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
if ! cmp -s pyproject.toml .venv/syncd-test-pyproject.toml; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
    cp pyproject.toml .venv/syncd-test-pyproject.toml
fi
# Bytecode caches (__pycache__, ignored by git) even where PYTHONDONTWRITEBYTECODE is set: the
# suite starts a few hundred interpreters that import syncd, and without caches each one
# compiles syncd's sources again (about 40% more CPU for the tests that run the real command).
# Not PYTHONPYCACHEPREFIX: with it the standard library's and .venv's caches go unused, and a
# fresh clone's run spent half a minute compiling them again.
unset PYTHONDONTWRITEBYTECODE
exec .venv/bin/python -m pytest -n "${SYNCD_TEST_WORKERS:-auto}" "$@"
