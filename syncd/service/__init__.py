"""Running syncd: ``runner`` (``sync_once``, ``run_daemon``: the lock, the client, the loop),
``daemon`` (the loop, signals), ``lock``, ``notify`` (systemd), ``logs``, ``progress``,
``status`` (``status`` and ``check``) and ``demo``. This package imports nothing itself."""
