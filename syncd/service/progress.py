"""Progress of a long pass (a full sync of a big model): records done, rate and ETA.

On a terminal, one line redrawn in place; elsewhere (journald, cron mail, a log file) redraws
would be noise, so an INFO log line every `log_every` seconds carries the same numbers.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from loguru import logger

REDRAW_EVERY = 0.2  # seconds: at most ~5 redraws a second


class Progress:
    """Records done / rate / ETA for a long pass. On a terminal: one line redrawn in place (\\r) at
    most ~5 times/s, cleared on close. Not a terminal: no redraws; an INFO log line at most every
    `log_every` seconds with done, total, rate, eta. The rate is the average since creation."""

    def __init__(self, label: str, total: int | None = None, *, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, tty: bool | None = None,
                 log_every: float = 10.0) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._tty = _isatty(self._stream) if tty is None else tty
        self._clock = clock
        self._log_every = log_every
        self._start = clock()
        self._last_draw: float | None = None
        self._last_log = self._start
        self._width = 0
        self._closed = False

    def advance(self, n: int) -> None:
        self.done += n
        now = self._clock()
        if self._tty:
            if self._last_draw is None or now - self._last_draw >= REDRAW_EVERY:
                self._draw(now)
        elif now - self._last_log >= self._log_every:
            self._last_log = now
            logger.info("{label} done={done} total={total} rate={rate}/s eta={eta}",
                        label=self.label, done=self.done,
                        total="?" if self.total is None else self.total,
                        rate=_rate_text(self.rate(now)), eta=_duration(self.eta(now)))

    def rate(self, now: float | None = None) -> float | None:
        """Records per second since the start; None before any time has passed."""
        elapsed = (self._clock() if now is None else now) - self._start
        return self.done / elapsed if elapsed > 0 else None

    def eta(self, now: float | None = None) -> float | None:
        """Seconds until `total` at the current rate; None without a total or a rate."""
        rate = self.rate(now)
        if self.total is None or not rate:
            return None
        return max(self.total - self.done, 0) / rate

    def line(self, now: float | None = None) -> str:
        """The text a terminal shows, e.g. 'customers: full sync 1200/5000 24% 400/s ETA 9s'."""
        if self.total:
            count = f"{self.done}/{self.total} {min(100 * self.done // self.total, 100)}%"
        else:
            count = str(self.done)
        return (f"{self.label} {count} {_rate_text(self.rate(now))}/s "
                f"ETA {_duration(self.eta(now))}")

    def close(self) -> None:
        """Clear the terminal line (so the next log line starts clean). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._tty and self._width:
            self._write("\r" + " " * self._width + "\r")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def _draw(self, now: float) -> None:
        self._last_draw = now
        text = self.line(now)
        # Pad over the previous line's tail: a shorter line must not leave old characters.
        padded = text.ljust(self._width)
        self._width = max(self._width, len(text))
        self._write("\r" + padded)

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            self._tty = False  # the terminal went away (closed or detached): fall back to logs


def make_progress(label: str, total: Callable[[], int | None]) -> Progress:
    """A Progress on stderr: redrawn lines on a terminal, periodic log lines elsewhere.
    ``total`` is asked only on a terminal, where the ETA is drawn: elsewhere the log lines say
    ``total=?`` rather than cost the server a full count of the table."""
    tty = _isatty(sys.stderr)
    return Progress(label, total() if tty else None, stream=sys.stderr, tty=tty)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _rate_text(rate: float | None) -> str:
    if rate is None:
        return "-"
    return f"{rate:.1f}" if rate < 10 else f"{rate:.0f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    whole = int(seconds + 0.5)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
