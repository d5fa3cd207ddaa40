"""One writer per data directory (and per database file a sink writes beside it).

``FileLock(path, target)``: an OS lock on the file ``path`` guarding ``target`` (what the
messages name); ``DataDirLock`` is the one on ``<data_dir>/.syncd.lock``. Both use ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on
Windows. The OS releases it when the process dies, however it dies, so a lock file left by a
killed syncd never blocks the next one; the pid inside is only for messages and is simply
overwritten. The file itself is never deleted (deleting it would let two processes lock two
different files of the same name).

Surprise: on POSIX, ``flock`` locks belong to the open file, so even a second DataDirLock in the
*same* process is refused, which is what we want for tests and for a nested ``once``.

``holder`` tells who holds a data directory without taking its lock (``status`` must never
block or disturb a starting daemon): on Linux from ``/proc/locks`` (FLOCK entries by pid and
inode), elsewhere from the pid in the lock file and a liveness check (unverified on Windows).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Self

from loguru import logger

from syncd.errors import LockedError, SyncdError, current_user

LOCK_NAME = ".syncd.lock"
# Windows locks byte ranges and a locked range cannot be read by others, so we lock a byte well
# past the pid text and leave the pid readable.
_WINDOWS_LOCK_OFFSET = 1 << 16


class FileLock:
    """Exclusive, non-blocking lock on the file ``path`` (created, with its directory), held by
    the one writer of ``target``; a context manager. Messages name ``target``."""

    def __init__(self, path: Path, target: Path | None = None) -> None:
        self.path = path
        self.target = target if target is not None else path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise LockedError naming the holder's pid. Creates the lock file's
        directory. Acquiring a lock this object already holds does nothing.
        """
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
        except PermissionError as exc:
            raise SyncdError(self._refused(exc)) from None
        try:
            locked = _try_lock(fd)
        except BaseException:
            os.close(fd)
            raise
        if not locked:
            os.close(fd)
            pid = self.holder_pid()
            raise LockedError(self._taken(f"pid {pid}" if pid is not None else "pid unknown"))
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            # The lock holds without the pid; only the message of a rival would suffer.
            logger.warning("could not write pid into lock file path={path} error={error}",
                           path=str(self.path), error=str(exc))
        self._fd = fd
        logger.debug("locked path={path} pid={pid}", path=str(self.path), pid=os.getpid())

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
        logger.debug("unlocked path={path}", path=str(self.path))

    def _taken(self, who: str) -> str:
        return f"another syncd ({who}) is already writing to {self.target}"

    def _refused(self, exc: PermissionError) -> str:
        """What to do when the lock file (or its directory) is another user's."""
        where = self.path if self.path.exists() else self.path.parent
        what = "the lock file" if where == self.path else "the lock file's directory"
        return (f"cannot write to {self.target}: cannot create or open its lock file "
                f"{self.path} ({what} is owned by {_owner(where)}): {exc.strerror or exc}; run "
                f"syncd as that user, or fix the owner: chown {current_user()} {where}")

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

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class DataDirLock(FileLock):
    """Exclusive, non-blocking lock on a data directory (``<data_dir>/.syncd.lock``)."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir / LOCK_NAME, data_dir)
        self.data_dir = data_dir

    def _taken(self, who: str) -> str:
        return f"another syncd ({who}) is already syncing into {self.data_dir}"

    def _refused(self, exc: PermissionError) -> str:
        """What to do when the lock file (or the directory, to create it) is another user's."""
        where, what = (self.path, "the lock file") if self.path.exists() \
            else (self.data_dir, "the data directory, to create the lock file in it,")
        owner, me = _owner(where), current_user()
        # The whole directory: owning only the lock file moves the error to the next file.
        return (f"cannot open {what} {where} (owned by {owner}): {exc.strerror or exc}; syncd "
                f"runs as {me}, so make the data directory and everything in it {me}'s: "
                f"chown -R {me} {self.data_dir} (or run syncd as {owner})")


def holder(data_dir: Path, *, proc_locks: Path = Path("/proc/locks")) -> int | None:
    """The pid of the process holding ``data_dir``'s lock, or None; never takes the lock.

    Reads ``proc_locks`` (Linux) for a FLOCK on the lock file's inode; without it, trusts the
    pid a holder writes into the lock file (release clears it) if that process is alive. A
    holder in another pid namespace may show as pid 0 on Linux: reported as 0, still held.
    """
    path = data_dir / LOCK_NAME
    try:
        st = path.stat()
    except OSError:
        return None  # no lock file: nobody has ever locked here
    try:
        table = proc_locks.read_text(encoding="ascii", errors="replace")
    except OSError:
        pid = DataDirLock(data_dir).holder_pid()
        return pid if pid is not None and _alive(pid) else None
    exact = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    same_inode: int | None = None
    for line in table.splitlines():
        fields = line.split()
        if "->" in fields:  # a waiter, not a holder
            continue
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:123456 0 EOF"
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        pid = int(fields[4]) if fields[4].isdigit() else 0
        if fields[5] == exact:
            return pid
        if fields[5].rsplit(":", 1)[-1] == str(st.st_ino):
            same_inode = pid
    # btrfs subvolumes and some overlays list another device number than stat gives.
    return same_inode


def _alive(pid: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - os.kill(pid, 0) would terminate it there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    return True


def _owner(path: Path) -> str:
    try:
        uid = path.stat().st_uid
    except OSError:
        return "another user"
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


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
