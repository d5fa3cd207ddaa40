"""Running syncd: the daemon loop, the data-directory lock, systemd notifications, logging,
progress, ``status``/``check`` and the demo. Public face: ``sync_once`` and ``run_daemon``."""

from syncd.service.runner import run_daemon, sync_once

__all__ = ["run_daemon", "sync_once"]
