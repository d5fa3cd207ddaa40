#!/usr/bin/env bash
# One sync pass, for cron and for humans:   scripts/sync_odoo.sh [syncd arguments]
#
# With no arguments it runs `syncd once`; any arguments go to syncd as given (`status`, `resync`,
# `-v once`, `run` ...). The exit code is syncd's: 0 ok, 1 the pass failed (or another syncd holds
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
if [ $# -eq 0 ]; then
    set -- once
fi
exec .venv/bin/syncd "$@"
