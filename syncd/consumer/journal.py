"""Reading a model's change journal (``odoo_<name>.changes.jsonl``, see syncd.sinks.journal).

A reader asks for the lines after the ``seq`` it has, up to the ``seq`` the state commits
(``ModelState.journal_seq``): lines past it are an unfinished pass's, and an unterminated last
line is a torn one; neither is ever handed out. When the lines asked for are no longer there
(rotated away, the journal deleted) the reader gets ``JournalGap``: reload the snapshot, as
after a ``reset``.

Surprise: the record is not decoded here. ``Entry.line`` is the record's bytes exactly as in
the snapshot, so a consumer can compare them with a snapshot's line without decoding either.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import CorruptFileError
from syncd.sinks.datadir import DataDir
from syncd.sinks.journal import first_seq, seq_of

_LINE = re.compile(rb'\{"seq":(\d+),"at":"([^"]*)","op":"(upsert|remove|reset)"'
                   rb'(?:,"id":(\d+))?(?:,"record":(.*))?\}\n\Z', re.DOTALL)


class JournalGap(Exception):
    """The lines after the reader's ``seq`` are gone: reload the snapshot."""


@dataclass(frozen=True)
class Entry:
    seq: int
    at: str
    op: str  # "upsert", "remove" or "reset"
    id: int | None
    line: bytes | None  # the record's snapshot line (upsert only)


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
