"""One writer per data directory (guarantee 6).

An OS lock on ``<data_dir>/.syncd.lock``: ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on
Windows. The OS releases it when the process dies, however it dies, so a lock file left by a
killed syncd never blocks the next one; the pid inside is only for messages and is simply
overwritten. The file itself is never deleted (deleting it would let two processes lock two
different files of the same name).

Surprise: on POSIX, ``flock`` locks belong to the open file, so even a second DataDirLock in the
*same* process is refused, which is what we want for tests and for a nested ``once``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType

from loguru import logger

from syncd.errors import LockedError

LOCK_NAME = ".syncd.lock"
# Windows locks byte ranges and a locked range cannot be read by others, so we lock a byte well
# past the pid text and leave the pid readable.
_WINDOWS_LOCK_OFFSET = 1 << 16


class DataDirLock:
    """Exclusive, non-blocking lock on a data directory; a context manager."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise LockedError naming the holder's pid. Creates ``data_dir``.

        Acquiring a lock this object already holds does nothing.
        """
        if self._fd is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
        try:
            locked = _try_lock(fd)
        except BaseException:
            os.close(fd)
            raise
        if not locked:
            os.close(fd)
            pid = self.holder_pid()
            who = f"pid {pid}" if pid is not None else "pid unknown"
            raise LockedError(f"another syncd ({who}) is already syncing into {self.data_dir}")
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            # The lock holds without the pid; only the message of a rival would suffer.
            logger.warning("could not write pid into lock file path={} error={}", self.path, exc)
        self._fd = fd
        logger.debug("data directory locked path={} pid={}", self.data_dir, os.getpid())

    def release(self) -> None:
        """Drop the lock (and the pid in the file). Releasing an unheld lock does nothing."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass  # a stale pid is harmless: the next holder overwrites it
        try:
            _unlock(fd)
        finally:
            os.close(fd)
        logger.debug("data directory unlocked path={}", self.data_dir)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder_pid(self) -> int | None:
        """The pid written in the lock file, if any. It may be stale: only the OS lock counts."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except OSError:
            return None
        try:
            return int(text.strip().split()[0]) if text.strip() else None
        except ValueError:
            return None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
