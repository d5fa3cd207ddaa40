#!/usr/bin/env bash
# See syncd work in one command, with no Odoo at hand:   scripts/demo.sh [demo options]
#
# Creates .venv on first use (see venv.sh), then runs `syncd demo`: the built-in Odoo emulator
# with demo data on 127.0.0.1, the daemon syncing from it, and records changing every few
# seconds, so incremental passes land in syncd-demo/ (never in the configured data directory).
# Ctrl+C stops it cleanly.
# Options go to `syncd demo` (try `scripts/demo.sh --help`).
set -u
# shellcheck source=scripts/venv.sh
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
exec .venv/bin/syncd demo "$@"
