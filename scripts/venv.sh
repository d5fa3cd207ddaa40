# Sourced (not run) by sync_odoo.sh and demo.sh: cd to the repository root and make sure .venv
# holds syncd installed from this checkout, creating it on first use.
#   PYTHON   the interpreter that creates .venv (default: python3; needs 3.11 or newer)
# The install is editable (as scripts/test.sh does it), so pulling new code needs no reinstall;
# it is redone when pyproject.toml (dependencies) differs from the copy kept in .venv.
# Setup failures exit 2 with one line on stderr; all chatter goes to stderr, never stdout.

syncd_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || exit 2
cd "$syncd_root" || exit 2

if [ ! -x .venv/bin/python ]; then
    syncd_python=${PYTHON:-python3}
    if ! "$syncd_python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "syncd: needs Python 3.11 or newer; set PYTHON=/path/to/python3.11 (tried: $syncd_python)" >&2
        exit 2
    fi
    echo "syncd: creating .venv with $syncd_python (first run only)" >&2
    if ! "$syncd_python" -m venv .venv; then
        echo "syncd: could not create .venv (on Debian/Ubuntu: apt install python3-venv)" >&2
        exit 2
    fi
fi
if [ ! -x .venv/bin/syncd ] || ! cmp -s pyproject.toml .venv/syncd-pyproject.toml; then
    echo "syncd: installing syncd and its dependencies into .venv" >&2
    if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -e . >&2; then
        echo "syncd: pip install failed (see above)" >&2
        exit 2
    fi
    cp pyproject.toml .venv/syncd-pyproject.toml
fi
