"""What a pass reports: per model and in all; and the progress hook a long pass reports to."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol



class ProgressLike(Protocol):
    def advance(self, n: int) -> None: ...


# (label, total): `total` is asked only where it is shown (a count is a full scan on the server)
ProgressFactory = Callable[[str, Callable[[], int | None]], AbstractContextManager[ProgressLike]]


@dataclass
class ModelReport:
    """One model's part of a pass: rows ``fetched`` from Odoo, records ``changed`` (added or
    different) and ``removed`` in the stored copy, the ``records`` it now holds; ``full`` for a
    rebuild, ``written`` when the copy changed."""

    name: str
    model: str
    fetched: int = 0
    changed: int = 0
    removed: int = 0
    records: int = 0
    watermark: str | None = None
    seconds: float = 0.0
    full: bool = False
    written: bool = False


@dataclass
class PassReport:
    """What one pass did. ``ok`` is False when anything failed (and then nothing was committed)."""

    models: list[ModelReport] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.interrupted

    @property
    def summary(self) -> str:
        if self.error:
            return f"last pass failed: {self.error}"
        parts = ", ".join(f"{m.name} {m.records}" for m in self.models)
        return f"{parts}; last pass {self.seconds:.1f}s"
