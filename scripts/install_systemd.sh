#!/usr/bin/env bash
# Install syncd as a systemd service running `syncd run` from this clone's .venv.
#
#   sudo scripts/install_systemd.sh [--config FILE]     system unit /etc/systemd/system/syncd.service
#   scripts/install_systemd.sh --user [--config FILE]   user unit ~/.config/systemd/user/syncd.service
#   scripts/install_systemd.sh --dry-run [--user] ...   print every step and the unit; change nothing
#
# Steps: create .venv (via sync_odoo.sh), create the `syncd` system user (system unit only),
# write the unit from scripts/syncd.service with this clone's path instead of /opt/syncd (and
# SYNCD_CONFIG when --config is given), create the secrets file from scripts/syncd.env.example
# with mode 600 if it does not exist, daemon-reload, and enable the service. It is started
# (--now) only when the secrets file already existed: a fresh one must be filled in first.
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

mode=system dry_run=0 config=""
while [ $# -gt 0 ]; do
    case "$1" in
        --user) mode=user ;;
        --dry-run) dry_run=1 ;;
        --config) [ $# -ge 2 ] || { echo "install_systemd.sh: --config needs a FILE" >&2; exit 2; }
                  config=$2; shift ;;
        --config=*) config=${1#--config=} ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install_systemd.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "$repo" in
    *[[:space:]]*) echo "install_systemd.sh: the clone's path must not contain spaces: $repo" >&2; exit 2 ;;
esac
if [ -n "$config" ]; then
    case "$config" in /*) ;; *) config="$PWD/$config" ;; esac
elif [ "$mode" = system ] && [ -f /etc/syncd/syncd.toml ]; then
    config=/etc/syncd/syncd.toml
fi

if [ "$mode" = system ]; then
    unit_dir=/etc/systemd/system
    env_file=/etc/syncd/syncd.env
    systemctl=(systemctl)
else
    unit_dir="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"
    env_file="${XDG_CONFIG_HOME:-$HOME/.config}/syncd/syncd.env"
    systemctl=(systemctl --user)
fi

step() {  # run a command, or show it under --dry-run
    if [ "$dry_run" = 1 ]; then
        echo "would run: $*"
    else
        "$@"
    fi
}

render_unit() {
    local escaped=${repo//&/\\&}
    # Comment lines keep /opt/syncd: they document the template, not this installation.
    local script=(-e "/^#/!s|/opt/syncd|${escaped//|/\\|}|g")
    if [ -n "$config" ]; then
        script+=(-e "s|^#Environment=SYNCD_CONFIG=.*|Environment=SYNCD_CONFIG=${config//|/\\|}|")
    fi
    if [ "$mode" = user ]; then
        # A user manager runs as you and cannot build namespaces or drop capabilities: keep the
        # seccomp-based hardening, drop the rest, and read secrets from your config dir.
        script+=(
            -e '/^\(User\|Group\|CapabilityBoundingSet\|AmbientCapabilities\)=/d'
            -e '/^\(ProtectSystem\|ProtectHome\|PrivateTmp\|PrivateDevices\|ProtectClock\)=/d'
            -e '/^\(ProtectKernelTunables\|ProtectKernelModules\|ProtectKernelLogs\)=/d'
            -e '/^\(ProtectControlGroups\|ProtectHostname\|RestrictNamespaces\)=/d'
            -e '/^\(Wants\|After\)=network-online.target/d'
            -e "s|^EnvironmentFile=.*|EnvironmentFile=-%E/syncd/syncd.env|"
            -e 's|^WantedBy=multi-user.target|WantedBy=default.target|'
        )
    else
        case "$repo" in
            /home/*|/root/*)
                # ProtectHome=yes would hide the venv; the syncd user also needs read access.
                script+=(-e 's|^ProtectHome=yes|ProtectHome=read-only|') ;;
        esac
    fi
    sed "${script[@]}" "$repo/scripts/syncd.service"
}

if [ "$mode" = system ] && [ "$dry_run" = 0 ] && [ "$(id -u)" != 0 ]; then
    echo "install_systemd.sh: run as root for the system unit (or use --user)" >&2
    exit 2
fi
if [ "$mode" = system ]; then
    case "$repo" in
        /home/*|/root/*) echo "note: the clone is in a home directory; the service runs as user" \
            "'syncd', which needs read access to $repo (a clone in /opt is simpler)." >&2 ;;
    esac
fi

step "$repo/scripts/sync_odoo.sh" --version
if [ "$mode" = system ] && ! getent passwd syncd >/dev/null 2>&1; then
    step useradd --system --no-create-home --home-dir /var/lib/syncd --shell /usr/sbin/nologin syncd
fi

step mkdir -p "$unit_dir"
if [ "$dry_run" = 1 ]; then
    echo "would write $unit_dir/syncd.service:"
    render_unit | sed 's/^/    /'
else
    render_unit >"$unit_dir/syncd.service.tmp"
    chmod 644 "$unit_dir/syncd.service.tmp"
    mv "$unit_dir/syncd.service.tmp" "$unit_dir/syncd.service"
fi

start=(--now)
if [ ! -e "$env_file" ]; then
    step mkdir -p "$(dirname "$env_file")"
    step install -m 600 "$repo/scripts/syncd.env.example" "$env_file"
    start=()
fi
step "${systemctl[@]}" daemon-reload
step "${systemctl[@]}" enable "${start[@]}" syncd.service

echo
if [ ${#start[@]} -eq 0 ]; then
    echo "Next: uncomment and fill in the Odoo URL, database, user and API key in $env_file"
    echo "      (or set them in syncd.toml, the secret with LoadCredential=), then"
    echo "      ${systemctl[*]} start syncd"
fi
if [ "$mode" = user ]; then
    echo "To keep it running while you are logged out: loginctl enable-linger ${USER:-$(id -un)}"
fi
echo "Watch it: ${systemctl[*]} status syncd; journalctl ${systemctl[1]:+--user }-u syncd -f"
