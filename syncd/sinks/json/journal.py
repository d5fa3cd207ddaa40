"""The change journal of the JSON sink: ``odoo_<name>.changes.jsonl``, appended, rotated, truncated.

One JSON object per line, keys in this order (a reader finds ``seq`` without decoding a line)::

    {"seq":7,"at":"2026-01-01 10:00:00","op":"upsert","id":42,"record":{...}}
    {"seq":8,"at":"2026-01-01 10:00:00","op":"remove","id":43}
    {"seq":9,"at":"2026-01-01 10:05:00","op":"reset"}

``record`` is byte for byte the record's line in the snapshot; ``reset`` (alone in its pass)
says the snapshot was rebuilt: reload it. ``seq`` grows by one per line for the model's whole
life: it continues across rotations, resyncs and a deleted state (read from the file's tail).

A pass appends its lines while it writes (``Journal.start``), fsyncs them at commit before any
snapshot is put in place, and the state then records each model's last ``seq``. Lines past the
state's ``seq`` are an unfinished pass's: readers skip them, and the next pass (``resume``)
truncates them, with a torn last line a killed writer left. An aborted pass truncates its own.

Rotation: before a pass appends to a file of ``max_bytes`` or more, the file is renamed to
``odoo_<name>.changes.<its first seq>.jsonl`` and only the newest ``keep`` of those stay. Only
committed lines are ever rotated (``resume`` runs first).

Reading (``JournalReader``, the JSON sink's ``changes``): the lines after a reader's ``seq`` up to
the ``seq`` the state commits; lines past it are an unfinished pass's and an unterminated last
line is a torn one: neither is ever handed out. Lines no longer there (rotated away, the journal
deleted) raise ``JournalGap``. The record is not decoded: ``Entry.line`` is its snapshot line.

Surprise: the tail is read backwards in blocks, so continuing a 64 MB journal reads kilobytes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from loguru import logger

from syncd.errors import CorruptFileError
from syncd.sinks.datadir import DataDir
from syncd.sync.seam import Entry, JournalGap

_SEQ = re.compile(rb'\{"seq":(\d+),')
_LINE = re.compile(rb'\{"seq":(\d+),"at":"([^"]*)","op":"(upsert|remove|reset)"'
                   rb'(?:,"id":(\d+))?(?:,"record":(.*))?\}\n\Z', re.DOTALL)
_BLOCK = 1 << 16


def seq_of(line: bytes) -> int | None:
    """The ``seq`` of a journal line, None if the line is not one."""
    match = _SEQ.match(line)
    return int(match[1]) if match else None


def tail_end(fd: int, size: int) -> int:
    """The offset just past the file's last newline (0 if none): where its whole lines end."""
    pos = size
    while pos > 0:
        start = max(0, pos - _BLOCK)
        found = os.pread(fd, pos - start, start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        pos = start
    return 0


def lines_backward(fd: int, end: int) -> Iterator[tuple[int, bytes]]:
    """The whole lines before ``end`` (a line boundary), last first: (offset, line with its
    newline). Reads the file backwards in blocks, never more than the lines asked for."""
    pos = end
    carry = b""
    while pos > 0:
        start = max(0, pos - _BLOCK)
        data = os.pread(fd, pos - start, start) + carry
        stop = len(data)
        cut = data.rfind(b"\n", 0, stop - 1)
        while cut >= 0:
            yield start + cut + 1, data[cut + 1:stop]
            stop = cut + 1
            cut = data.rfind(b"\n", 0, stop - 1)
        carry = data[:stop]
        pos = start
    if carry:
        yield 0, carry


def first_seq(path: Path) -> int | None:
    """The ``seq`` of a journal file's first line (None: empty or missing)."""
    try:
        with path.open("rb") as handle:
            return seq_of(handle.readline())
    except FileNotFoundError:
        return None


def last_seq(path: Path) -> int | None:
    """The ``seq`` of a journal file's last whole line (None: none, or the file is missing)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return None
    try:
        for _, line in lines_backward(fd, tail_end(fd, os.fstat(fd).st_size)):
            return seq_of(line)
        return None
    finally:
        os.close(fd)


class Journal:
    """The journal of model ``name`` in a data directory (the caller holds its lock)."""

    def __init__(self, data_dir: DataDir, name: str, *, max_bytes: int, keep: int) -> None:
        self.data_dir = data_dir
        self.name = name
        self.path = data_dir.journal(name)
        self.max_bytes = max_bytes
        self.keep = keep

    def resume(self, committed: int | None) -> int:
        """Cut what follows the last committed line (``committed``: the state's ``seq``; None
        when the state does not know, then every whole line counts) and a torn last line;
        return the last ``seq`` to continue from (never less than ``committed``)."""
        try:
            fd = os.open(self.path, os.O_RDWR | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            return max(committed or 0, self._last_rotated())
        try:
            size = os.fstat(fd).st_size
            keep = tail_end(fd, size)
            last: int | None = None
            foreign = 0  # lines after the last committed one that are not this journal's
            backward = lines_backward(fd, keep)
            current = next(backward, None)
            while current is not None:
                start, line = current
                seq = seq_of(line)
                before = next(backward, None)
                previous = seq_of(before[1]) if before is not None else None
                unfinished = seq is not None and committed is not None and seq > committed
                # A line out of sequence with the one before it was not appended by syncd.
                if seq is None or (not unfinished and previous is not None
                                   and previous != seq - 1):
                    foreign += 1
                elif not unfinished:
                    last = seq
                    break
                keep, current = start, before
            if last is None and foreign:
                os.close(fd)
                fd = -1
                aside = self.data_dir.set_aside(self.path)
                logger.error("model={model} corrupt change journal set aside as {moved_to}; it "
                             "continues from seq {seq}", model=self.name, moved_to=aside.name,
                             seq=committed or 0)
                return max(committed or 0, self._last_rotated())
            if keep < size:
                os.ftruncate(fd, keep)
                os.fsync(fd)
                if foreign:
                    logger.warning("model={model} change journal: cut {bytes} bytes after its "
                                   "last committed line, {foreign} of them lines it did not "
                                   "write", model=self.name, bytes=size - keep, foreign=foreign)
                else:
                    logger.info("model={model} change journal: cut {bytes} bytes of an "
                                "unfinished pass", model=self.name, bytes=size - keep)
        finally:
            if fd >= 0:
                os.close(fd)
        if last is None:
            last = self._last_rotated()
        return max(committed or 0, last)

    def _last_rotated(self) -> int:
        rotated = self.data_dir.rotated_journals(self.name)
        return (last_seq(rotated[-1][1]) or 0) if rotated else 0

    def start(self, at: str, after: int) -> Appending:
        """Append lines numbered from ``after + 1`` (rotating first if the file is full)."""
        return Appending(self, at, after)

    def rotate_if_full(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size < self.max_bytes:
            return
        first = first_seq(self.path)
        if first is None:
            return
        os.replace(self.path, self.data_dir.rotated_journal(self.name, first))
        rotated = self.data_dir.rotated_journals(self.name)
        for _, old in rotated[:max(0, len(rotated) - self.keep)]:
            old.unlink(missing_ok=True)
            logger.info("model={model} removed old journal file {file}", model=self.name,
                        file=old.name)


class Appending:
    """One pass's lines of one model: ``upsert``/``remove``/``reset``, then ``sync`` (fsynced
    at commit) or ``rollback`` (cut back to where this pass began)."""

    _BUFFER = 1 << 20

    def __init__(self, journal: Journal, at: str, after: int) -> None:
        self.journal = journal
        self.after = after
        self.seq = after
        self._prefix = b',"at":"' + at.encode() + b'","op":"'
        self._buffer = bytearray()
        self._fd = -1
        self._base = 0
        self._created = False

    def _open(self) -> None:
        self.journal.rotate_if_full()
        path = self.journal.path
        self._created = not path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
        self._base = os.lseek(self._fd, 0, os.SEEK_END)

    def _line(self, op: bytes, tail: bytes) -> None:
        if self._fd < 0:
            self._open()
        self.seq += 1
        self._buffer += b'{"seq":' + str(self.seq).encode() + self._prefix + op + tail
        if len(self._buffer) >= self._BUFFER:
            self._flush()

    def upsert(self, record_id: int, line: bytes) -> None:
        self._line(b"upsert", b'","id":' + str(record_id).encode() + b',"record":' + line
                   + b"}\n")

    def remove(self, record_id: int) -> None:
        self._line(b"remove", b'","id":' + str(record_id).encode() + b"}\n")

    def reset(self) -> None:
        self._line(b"reset", b'"}\n')

    def _flush(self) -> None:
        # No memoryview: one left exported by a failing write (a full disk) would make the
        # rollback's clear() raise BufferError in place of the write's own error.
        buffer, pos = self._buffer, 0
        while pos < len(buffer):
            pos += os.write(self._fd, buffer[pos:] if pos else buffer)
        buffer.clear()

    def sync(self) -> None:
        """Everything appended is on disk (before any snapshot of the pass is put in place)."""
        if self._fd < 0:
            return
        self._flush()
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = -1
        if self._created:
            _fsync_directory(self.journal.path.parent)

    def rollback(self) -> None:
        """Cut this pass's lines (best effort: the next pass cuts them anyway)."""
        self._buffer.clear()
        try:
            if self._fd < 0:
                if self.seq == self.after:
                    return
                self._fd = os.open(self.journal.path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
            os.ftruncate(self._fd, self._base)
        except OSError as exc:
            logger.debug("cannot cut the journal of {}: {}", self.journal.name, exc)
        finally:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        self.seq = self.after


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse it: only durability of the new name suffers
    finally:
        os.close(fd)


def parse(line: bytes, where: Path) -> Entry:
    match = _LINE.match(line)
    if match is None or (match[3] != b"reset" and match[4] is None) \
            or (match[3] == b"upsert") != (match[5] is not None):
        raise CorruptFileError(f"{where}: not a journal line: {line[:60]!r}")
    return Entry(seq=int(match[1]), at=match[2].decode(), op=match[3].decode(),
                 id=int(match[4]) if match[4] is not None else None, line=match[5])


class JournalReader:
    """Reads one model's journal, remembering where it stopped so that following it reads
    each line once (a rotation or a cut journal is noticed by the file's identity and size)."""

    def __init__(self, data_dir: DataDir, name: str) -> None:
        self.data_dir = data_dir
        self.name = name
        self._at: tuple[int, int, int, int] | None = None  # dev, ino, offset, seq there

    def _files(self) -> list[tuple[int, Path]]:
        files = list(self.data_dir.rotated_journals(self.name))
        current = self.data_dir.journal(self.name)
        first = first_seq(current)
        if first is not None:
            files.append((first, current))
        return files

    def entries(self, after: int, upto: int) -> Iterator[Entry]:
        """The lines with ``after < seq <= upto``, in order. JournalGap when any is missing."""
        if upto <= after:
            return
        want = after + 1
        files = self._files()
        starts = [i for i, (first, _) in enumerate(files) if first <= want]
        if not starts:
            raise JournalGap(f"{self.name}: journal lines after seq {after} are gone")
        for _, path in files[starts[-1]:]:
            for entry in self._read(path, want, upto):
                if entry.seq != want:
                    raise JournalGap(f"{self.name}: journal jumps from {want - 1} to {entry.seq}")
                yield entry
                want += 1
                if want > upto:
                    return
        raise JournalGap(f"{self.name}: journal ends before seq {upto}")

    def _read(self, path: Path, want: int, upto: int) -> Iterator[Entry]:
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            return  # rotated while listing: the entries() caller sees the gap
        with handle:
            st = os.fstat(handle.fileno())
            if self._at is not None and self._at[:2] == (st.st_dev, st.st_ino) \
                    and self._at[3] == want - 1 and self._at[2] <= st.st_size:
                handle.seek(self._at[2])
            offset = handle.tell()
            for raw in handle:
                if not raw.endswith(b"\n"):
                    return  # torn: a writer was killed mid-line; the next pass cuts it
                offset += len(raw)
                seq = seq_of(raw)
                if seq is not None and seq < want:
                    continue
                entry = parse(raw, path)
                if entry.seq > upto:
                    return
                self._at = (st.st_dev, st.st_ino, offset, entry.seq)
                yield entry
