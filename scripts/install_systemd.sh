#!/usr/bin/env bash
# Install syncd as a systemd service running `syncd run` from this clone's .venv.
#
#   sudo scripts/install_systemd.sh [--config FILE]     system unit /etc/systemd/system/syncd.service
#                         (FILE is copied to /etc/syncd/syncd.toml: ProtectHome= hides home dirs)
#   scripts/install_systemd.sh --user [--config FILE]   user unit ~/.config/systemd/user/syncd.service
#   scripts/install_systemd.sh --dry-run [--user] ...   print every step and the unit; change nothing
#   sudo scripts/install_systemd.sh --instance NAME [--config FILE]
#                         one of several: the template syncd@.service, unit syncd@NAME, config
#                         /etc/syncd/NAME.toml (FILE is copied there), data /var/lib/syncd/NAME
#
# Steps: create .venv (via sync_odoo.sh), create the `syncd` system user (system unit only),
# write the unit from scripts/syncd.service (or syncd@.service) with this clone's path instead
# of /opt/syncd (and SYNCD_CONFIG when --config is given), create the env file from
# scripts/syncd.env.example (all commented out) with mode 600 if it does not exist,
# daemon-reload, and enable the service. It is started (--now) only when the env file already
# existed (with --instance: when the instance's config file exists), so settings come first.
set -euo pipefail

usage() {  # the header comment above, up to its first line of code
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}

mode=system dry_run=0 config="" instance=""
while [ $# -gt 0 ]; do
    case "$1" in
        --user) mode=user ;;
        --dry-run) dry_run=1 ;;
        --config) [ $# -ge 2 ] || { echo "install_systemd.sh: --config needs a FILE" >&2; exit 2; }
                  config=$2; shift ;;
        --config=*) config=${1#--config=} ;;
        --instance) [ $# -ge 2 ] || { echo "install_systemd.sh: --instance needs a NAME" >&2; exit 2; }
                    instance=$2; shift ;;
        --instance=*) instance=${1#--instance=} ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install_systemd.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# The name becomes a unit name, a file name and a directory: keep it to characters that need no
# systemd escaping (systemd-escape(1)) and cannot climb out of /etc/syncd.
if [ -n "$instance" ] && ! [[ "$instance" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]]; then
    echo "install_systemd.sh: --instance NAME takes letters, digits, _ . - only: $instance" >&2
    exit 2
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "$repo" in
    *[[:space:]]*) echo "install_systemd.sh: the clone's path must not contain spaces: $repo" >&2; exit 2 ;;
esac
if [ -n "$config" ]; then
    case "$config" in /*) ;; *) config="$PWD/$config" ;; esac
    [ -f "$config" ] || { echo "install_systemd.sh: no such config file: $config" >&2; exit 2; }
elif [ "$mode" = system ] && [ -z "$instance" ] && [ -f /etc/syncd/syncd.toml ]; then
    config=/etc/syncd/syncd.toml
fi

if [ "$mode" = system ]; then
    unit_dir=/etc/systemd/system
    etc_dir=/etc/syncd
    systemctl=(systemctl)
else
    unit_dir="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"
    etc_dir="${XDG_CONFIG_HOME:-$HOME/.config}/syncd"
    systemctl=(systemctl --user)
fi
if [ -n "$instance" ]; then
    template=syncd@.service unit="syncd@$instance" env_file="$etc_dir/$instance.env"
    instance_config="$etc_dir/$instance.toml"
else
    template=syncd.service unit=syncd env_file="$etc_dir/syncd.env"
fi
# The system service runs as user syncd with ProtectHome=yes: a --config FILE in a home directory
# would be hidden from it (exit 2, never restarted). Like an instance's, it is copied to /etc.
system_config=""
if [ "$mode" = system ] && [ -z "$instance" ] && [ -n "$config" ] \
        && [ "$config" != "$etc_dir/syncd.toml" ]; then
    if [ -e "$etc_dir/syncd.toml" ] && ! cmp -s "$config" "$etc_dir/syncd.toml"; then
        echo "install_systemd.sh: $etc_dir/syncd.toml exists and differs from $config; the" \
            "service reads $etc_dir/syncd.toml (it cannot see home directories): edit that" \
            "file, or move it away and run this again" >&2
        exit 2
    fi
    system_config=$config
    config=$etc_dir/syncd.toml
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
    if [ -n "$config" ] && [ -z "$instance" ]; then
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
            -e "/^#/!s|/etc/syncd/syncd.env|%E/syncd/syncd.env|"
            -e "/^#/!s|/etc/syncd/%i\\.|%E/syncd/%i.|g"
            -e 's|^WantedBy=multi-user.target|WantedBy=default.target|'
        )
    else
        case "$repo" in
            /home/*|/root/*)
                # ProtectHome=yes would hide the venv; the syncd user also needs read access.
                script+=(-e 's|^ProtectHome=yes|ProtectHome=read-only|') ;;
        esac
    fi
    sed "${script[@]}" "$repo/scripts/$template"
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
    echo "would write $unit_dir/$template:"
    render_unit | sed 's/^/    /'
else
    render_unit >"$unit_dir/$template.tmp"
    chmod 644 "$unit_dir/$template.tmp"
    mv "$unit_dir/$template.tmp" "$unit_dir/$template"
fi

start=(--now)
if [ ! -e "$env_file" ]; then
    step mkdir -p "$etc_dir"
    step install -m 600 "$repo/scripts/syncd.env.example" "$env_file"
    [ -n "$instance" ] || start=()
fi
if [ -n "$system_config" ]; then
    step mkdir -p "$etc_dir"
    # The service reads it as user syncd (it is not read by systemd, as the env file is).
    step install -m 640 -o root -g syncd "$system_config" "$config"
fi
if [ -n "$instance" ]; then
    if [ -n "$config" ]; then
        # The service reads it as user syncd (it is not read by systemd, as the env file is).
        owner=()
        [ "$mode" = user ] || owner=(-o root -g syncd)
        step install -m 640 "${owner[@]}" "$config" "$instance_config"
    elif [ ! -e "$instance_config" ]; then
        start=()
    fi
fi
step "${systemctl[@]}" daemon-reload
step "${systemctl[@]}" enable "${start[@]}" "$unit.service"

echo
if [ -n "$instance" ] && [ ${#start[@]} -eq 0 ]; then
    echo "Next: write $instance_config ([odoo] url, database, username; [models.*]), readable"
    echo "      by the service's user; secrets there, in $env_file or via LoadCredential=; then"
    echo "      ${systemctl[*]} start $unit"
elif [ ${#start[@]} -eq 0 ]; then
    echo "Next: uncomment and fill in the Odoo URL, database, user and API key in $env_file"
    echo "      (or set them in syncd.toml, the secret with LoadCredential=), then"
    echo "      ${systemctl[*]} start syncd"
fi
if [ "$mode" = user ]; then
    echo "To keep it running while you are logged out: loginctl enable-linger ${USER:-$(id -un)}"
fi
echo "Watch it: ${systemctl[*]} status $unit; journalctl ${systemctl[1]:+--user }-u $unit -f"
