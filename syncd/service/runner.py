"""What `once` and `run` do around a pass: the lock, the client, progress, the daemon loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from syncd.odoo.client import OdooClient
from syncd.odoo.interrupt import clear_stop
from syncd.service.daemon import Daemon, install_signal_handlers
from syncd.service.metrics import Metrics
from syncd.service.notify import Notifier
from syncd.service.progress import make_progress
from syncd.settings import Settings
from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import make_sink
from syncd.errors import LockedError, SyncdError
from syncd.service.logs import error_record_elsewhere
from syncd.sync.engine import run_pass, utc_now
from syncd.sync.report import PassReport, ProgressLike
from syncd.sync.seam import Sink


def progress_factory(label: str,
                     total: Callable[[], int | None]) -> AbstractContextManager[ProgressLike]:
    return make_progress(label, total)


def data_dir_of(settings: Settings) -> DataDir:
    """The data directory, its failed pass's error kept beside the logs when it refuses it."""
    path = settings.sync.data_dir
    return DataDir(path, error_elsewhere=error_record_elsewhere(path))


@contextmanager
def writing(settings: Settings) -> Iterator[Sink]:
    """The one writer's hold: the data directory's lock, then the sink's own (LockedError if
    another syncd holds either), and the sink, closed on the way out. A lock refused to this
    user (another user's directory) is a failed pass: recorded for ``status``."""
    sink = make_sink(settings)
    data_dir = data_dir_of(settings)
    try:
        held = data_dir.lock()
        try:
            held.acquire()
        except LockedError:
            raise
        except SyncdError as exc:
            data_dir.record_error(None, str(exc), utc_now())
            raise
        with held, sink.lock():
            yield sink
    finally:
        sink.close()


def sync_once(settings: Settings, *, should_stop: Callable[[], bool] | None = None) -> PassReport:
    """One pass under the locks (LockedError if another syncd holds one)."""
    with writing(settings) as sink, OdooClient(settings.odoo) as client:
        return run_pass(settings, client, sink, data_dir_of(settings), progress=progress_factory,
                        should_stop=should_stop)


def run_daemon(settings: Settings, *, stop: threading.Event | None = None,
               on_pass: Callable[[PassReport], None] | None = None,
               metrics: Metrics | None = None) -> int:
    """The daemon: the lock for its whole life, one client (one login), a pass every interval;
    ``metrics`` (by default those ``[service] metrics`` asks for, if any) served meanwhile and
    told of every pass."""
    address = settings.service.metrics_address
    if metrics is None and address is not None:
        metrics = Metrics(address)  # before the lock: a missing extra is a configuration error
    with writing(settings) as sink, OdooClient(settings.odoo) as client, \
            (metrics.serving() if metrics is not None else nullcontext()):
        daemon: Daemon

        def should_stop() -> bool:
            daemon.heartbeat()  # a long pass keeps pinging systemd's watchdog, page by page
            return daemon.stopping.is_set()

        def one_pass() -> PassReport:
            started = time.monotonic()
            try:
                report = run_pass(settings, client, sink, data_dir_of(settings),
                                  progress=progress_factory, should_stop=should_stop)
            except Exception as exc:  # a bug: the daemon counts it as a failed pass, so do these
                if metrics is not None:
                    metrics.observe(PassReport(error=f"unexpected {type(exc).__name__}",
                                               seconds=time.monotonic() - started), client)
                raise
            if metrics is not None:
                metrics.observe(report, client)
            if on_pass is not None:
                on_pass(report)
            return report

        daemon = Daemon(one_pass, settings.sync.interval, notifier=Notifier())
        if threading.current_thread() is threading.main_thread():
            install_signal_handlers(daemon)
        if stop is not None:
            external_stop = stop

            def relay() -> None:
                external_stop.wait()
                daemon.stop()

            threading.Thread(target=relay, name="stop-relay", daemon=True).start()
        clear_stop()
        try:
            return daemon.run()
        finally:
            clear_stop()


