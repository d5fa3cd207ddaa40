"""Atomic file replacement: the only code in syncd that writes files.

A reader of a file written here sees, at any instant, either the previous complete file or the
new complete one, even if this process is killed with SIGKILL mid-write: the bytes go to a
temporary file in the same directory (same filesystem, so the rename is atomic), which is
flushed and fsynced, then renamed over the target with ``os.replace``; on POSIX the directory is
fsynced too so the rename itself survives a power cut.

Surprises: a kill between the temp write and the rename leaves a temp file behind (named
``.<name>.<random>.syncd-tmp``); ``sweep_temp_files`` removes those at start-up. The old
versions ``Replacing`` keeps while a pass replaces several files bear the same kind of name. On Windows a
reader that holds the target open makes ``os.replace`` fail with ``PermissionError``; we retry
for about two seconds before giving up. Failures raise ``OSError`` unchanged (the caller adds
the context of what it was saving).
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from loguru import logger

TEMP_MARK = ".syncd-tmp"
KEEP_SET_ASIDE = 5  # per original file, the newest
MAX_SET_ASIDE_AGE = 30 * 24 * 3600.0  # seconds
_SET_ASIDE_RE = re.compile(r"^(?P<original>.+)\.corrupt-\d{8}T\d{6}(-\d+)?$")

_IS_WINDOWS = sys.platform == "win32"
_REPLACE_ATTEMPTS = 20  # x 0.1 s: a reader on Windows holds a file only briefly
_REPLACE_PAUSE = 0.1


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; create the parent directory if missing.

    The temp file is removed on any failure, and the target is then left exactly as it was.
    """
    stage(path, data).commit()


class Staged:
    """New content written and fsynced beside its target, not yet in place.

    Lets a caller prepare several files and put them in place only once all are ready
    (``commit``), or drop them all (``discard``) so the targets stay exactly as they were.
    """

    def __init__(self, temp: Path, path: Path) -> None:
        self.temp = temp
        self.path = path

    def commit(self) -> None:
        try:
            _replace(self.temp, self.path)
        except BaseException:
            self.discard()
            raise
        _fsync_directory(self.path.parent)

    def discard(self) -> None:
        try:
            self.temp.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            logger.warning("could not remove temp file path={path} error={error}",
                           path=str(self.temp), error=str(exc))


class Replacing:
    """Puts several staged files in place, all or none: before each replace the target's old
    version is kept under a temp name (a hard link, or a copy where links are refused), so
    that a failure puts every file already replaced back (``restore``); ``drop`` forgets the
    old versions once the replaced files are committed.

    A kill between two replaces leaves each file whole (old or new) and the kept old versions
    as temp files, which ``sweep_temp_files`` removes at the start of the next pass.
    """

    def __init__(self) -> None:
        self._done: list[tuple[Path, Path | None]] = []  # (target, its old version or None)

    def replace(self, staged: Staged) -> None:
        kept = _keep_old(staged.path)
        try:
            staged.commit()
        except BaseException:
            if kept is not None:
                Staged(kept, staged.path).discard()
            raise
        self._done.append((staged.path, kept))

    def restore(self) -> None:
        """Put back the old version of every file replaced so far (a target that did not
        exist is removed); best effort, logged: the caller is already failing."""
        done, self._done = self._done, []
        for path, kept in reversed(done):
            try:
                if kept is None:
                    path.unlink(missing_ok=True)
                else:
                    _replace(kept, path)
                _fsync_directory(path.parent)
            except OSError as exc:
                logger.warning("could not put back the old file path={path} error={error}",
                               path=str(path), error=str(exc))

    def drop(self) -> None:
        done, self._done = self._done, []
        for path, kept in done:
            if kept is not None:
                Staged(kept, path).discard()


def _keep_old(path: Path) -> Path | None:
    """A temp name for the current ``path`` (same inode, same size and mtime), None when
    ``path`` does not exist."""
    if not path.exists():
        return None
    while True:
        kept = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_MARK}")
        try:
            os.link(path, kept)
            return kept
        except FileExistsError:  # pragma: no cover - 48 random bits colliding
            continue
        except FileNotFoundError:
            return None
        except OSError:  # a filesystem without hard links: a copy, same size and mtime
            import shutil

            try:
                shutil.copy2(path, kept)
            except BaseException:
                Staged(kept, path).discard()
                raise
            return kept


def stage(path: Path, data: bytes) -> Staged:
    """Write ``data`` to a fsynced temp file beside ``path``; ``commit()`` puts it in place."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    temp, fd = _create_temp(path)
    staged = Staged(temp, path)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        # BaseException too: a KeyboardInterrupt mid-write must not leave a temp behind.
        staged.discard()
        raise
    return staged


class StagedWriter:
    """A temp file beside ``path`` written as a stream (buffered), then ``finish``ed into a
    ``Staged`` (fsynced, closed) or ``discard``ed. For files too big to build in memory."""

    _BUFFER = 1 << 20

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.temp, self._fd = _create_temp(path)
        self.path = path
        self._buffer = bytearray()
        self._open = True

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= self._BUFFER:
            self._flush()

    def copy_range(self, source_fd: int, offset: int, count: int) -> None:
        """Append ``count`` bytes of another file from ``offset``, copied by the kernel where
        it can (copy_file_range, sendfile), so unchanged data never passes through Python."""
        self._flush()
        try:
            _copy_range(source_fd, self._fd, offset, count)
        except BaseException:
            self.discard()
            raise

    def finish(self) -> Staged:
        try:
            self._flush()
            os.fsync(self._fd)
        except BaseException:
            self.discard()
            raise
        self._close()
        return Staged(self.temp, self.path)

    def discard(self) -> None:
        self._close()
        Staged(self.temp, self.path).discard()

    def _flush(self) -> None:
        buffer, pos = self._buffer, 0
        try:
            while pos < len(buffer):
                pos += os.write(self._fd, buffer[pos:] if pos else buffer)
        except BaseException:
            self.discard()
            raise
        buffer.clear()

    def _close(self) -> None:
        if self._open:
            self._open = False
            os.close(self._fd)


def _copy_range(source: int, target: int, offset: int, count: int) -> None:
    copy_file_range = getattr(os, "copy_file_range", None)
    while count > 0:
        done = 0
        if copy_file_range is not None:
            try:
                done = copy_file_range(source, target, count, offset)
            except OSError:
                copy_file_range = None  # another filesystem, an old kernel: copy by hand
                continue
        else:
            data = os.pread(source, min(count, 1 << 20), offset)
            if not data:
                raise OSError(f"unexpected end of file copying {count} bytes at {offset}")
            view = memoryview(data)
            while view:
                view = view[os.write(target, view):]
            done = len(data)
        if done <= 0:
            raise OSError(f"unexpected end of file copying {count} bytes at {offset}")
        offset += done
        count -= done


def _create_temp(path: Path) -> tuple[Path, int]:
    """Create a fresh temp file next to ``path``; mode follows the umask like a normal file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_MARK}")
        try:
            return temp, os.open(temp, flags, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits colliding
            continue


def _replace(temp: Path, path: Path) -> None:
    if not _IS_WINDOWS:
        os.replace(temp, path)
        return
    # Windows: a reader holding the target refuses the replace; a bounded retry, then the
    # PermissionError (the caller removes the temp; the target is untouched).
    for attempt in range(_REPLACE_ATTEMPTS):
        try:
            os.replace(temp, path)
            return
        except PermissionError:
            if attempt == _REPLACE_ATTEMPTS - 1:
                raise
            _pause(_REPLACE_PAUSE)


_pause = time.sleep  # tests replace it (Windows contention is simulated off Windows)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable. Windows cannot open a directory for fsync (and needs no such
    step); some filesystems refuse fsync on a directory, which only costs durability."""
    if _IS_WINDOWS:  # pragma: no cover
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        logger.debug("cannot open directory for fsync path={path} error={error}",
                     path=str(directory), error=str(exc))
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        logger.debug("directory fsync refused path={path} error={error}", path=str(directory),
                     error=str(exc))
    finally:
        os.close(fd)


def sweep_temp_files(directory: Path) -> list[Path]:
    """Remove temp files a killed writer left in ``directory``; return the removed paths.

    Only names ending in ``TEMP_MARK`` are touched. Call it while holding the data-directory
    lock: a temp of a live writer is indistinguishable from a leftover one. A missing
    directory has nothing to sweep.
    """
    removed: list[Path] = []
    try:
        entries = sorted(directory.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        if entry.name.endswith(TEMP_MARK) and entry.is_file() and _remove(entry, removed):
            logger.info("removed leftover temp file path={path}", path=str(entry))
    return removed


def _remove(entry: Path, removed: list[Path]) -> bool:
    """Unlink ``entry`` and note it in ``removed``; False when it was already gone."""
    try:
        entry.unlink()
    except FileNotFoundError:
        return False
    removed.append(entry)
    return True


def set_aside(path: Path, now: datetime | None = None) -> Path:
    """Rename a corrupt file to ``<name>.corrupt-YYYYmmddTHHMMSS`` (UTC) and return the new path.

    Never overwrites: if that name is taken, ``-1``, ``-2``, ... is appended. The renamed file's
    mtime is set to now, so that its age (``prune_set_aside``) counts from being set aside, not
    from the last write of a file that may have sat unchanged for months.
    """
    moment = now if now is not None else datetime.now(UTC)
    base = f"{path.name}.corrupt-{moment:%Y%m%dT%H%M%S}"
    target = path.with_name(base)
    n = 0
    while target.exists():
        n += 1
        target = path.with_name(f"{base}-{n}")
    # os.rename, not replace: on Windows it refuses to overwrite, which is what we want.
    os.rename(path, target)
    try:
        os.utime(target)
    except OSError as exc:  # only its lifetime suffers
        logger.debug("cannot touch set-aside file path={path} error={error}", path=str(target),
                     error=str(exc))
    logger.warning("set aside corrupt file path={path} moved_to={moved_to}", path=str(path),
                   moved_to=str(target))
    return target


def prune_set_aside(directory: Path, *, now: float | None = None, keep: int = KEEP_SET_ASIDE,
                    max_age: float = MAX_SET_ASIDE_AGE) -> list[Path]:
    """Remove the ``set_aside`` files of ``directory`` older than ``max_age`` seconds (by mtime,
    against ``now``, a ``time.time()`` value) and those beyond the newest ``keep`` per original
    file; log one INFO line per removal and return the removed paths.

    Only names ``set_aside`` makes (``<name>.corrupt-YYYYmmddTHHMMSS[-n]``) are touched. Call it
    with the data-directory lock held, like ``sweep_temp_files``.
    """
    moment = time.time() if now is None else now
    groups: dict[str, list[tuple[float, str, Path]]] = {}
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return []
    for entry in entries:
        match = _SET_ASIDE_RE.match(entry.name)
        if match is None or not entry.is_file():
            continue
        try:
            mtime = entry.stat().st_mtime
        except FileNotFoundError:
            continue
        groups.setdefault(match["original"], []).append((mtime, entry.name, entry))
    removed: list[Path] = []
    for original in sorted(groups):
        # Newest first; the name breaks ties (a later -n suffix is the later set-aside).
        ranked = sorted(groups[original], key=lambda item: (item[0], item[1]), reverse=True)
        for rank, (mtime, _, entry) in enumerate(ranked):
            age = moment - mtime
            if (rank < keep and age <= max_age) or not _remove(entry, removed):
                continue
            reason = f"older than {max_age / 86400:g} days" if age > max_age \
                else f"more than {keep} kept for {original}"
            logger.info("removed old corrupt file path={path} reason={reason}", path=str(entry),
                        reason=reason)
    return removed
