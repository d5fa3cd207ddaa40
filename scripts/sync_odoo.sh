#!/usr/bin/env bash
# One sync pass, for cron and for humans:   scripts/sync_odoo.sh [syncd arguments]
#
# With no command it runs `syncd once` (so `sync_odoo.sh -q` is `syncd -q once`); arguments go
# to syncd as given (`status`, `resync`, `-v once`, `run` ...). The exit code is syncd's: 0 ok, 1 the pass failed (or another syncd holds
# the data directory), 2 usage/configuration error (or the virtualenv could not be set up).
# It works from the repository root (so ./syncd.toml and the default ./odoo_database are found
# there; give other paths as absolute paths) and creates .venv on first use (see venv.sh).
# The environment passes through untouched: SYNCD_CONFIG, SYNCD_DATA_DIR, ODOO_* ...
#
# cron, every 5 minutes (a run still busy makes the next one exit 1 instead of interleaving):
#   */5 * * * * /opt/syncd/scripts/sync_odoo.sh -q >>/var/tmp/syncd-cron.log 2>&1
set -u
# shellcheck source=scripts/venv.sh
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
# Is there a command among the arguments? Skip the options and the values of those that take one.
command=""
value_next=""
for arg in "$@"; do
    if [ -n "$value_next" ]; then value_next=""; continue; fi
    case "$arg" in
        --config|--data-dir) value_next=1 ;;
        -h|--help|--version) command="$arg"; break ;;
        -*) ;;
        *) command="$arg"; break ;;
    esac
done
if [ -z "$command" ]; then
    set -- "$@" once
fi
exec .venv/bin/syncd "$@"
