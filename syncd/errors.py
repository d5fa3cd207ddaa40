"""The small error tree. Every error syncd raises on purpose is a SyncdError.

Callers decide by type: ``ConfigError`` is fatal (exit 2); ``AuthError`` and ``FaultError`` are
fatal for the pass (not retried); ``TransientError`` is retried with backoff, and becomes a failed
pass (exit 1) only when the retries run out; ``LockedError`` means another syncd owns the data
directory; ``PassInterrupted`` means a stop was asked for and the pass was abandoned, nothing of
it committed. Messages are one line, never contain secrets, and say what to do where we know.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence


def one_line(text: str) -> str:
    """``text`` on one line: every run of whitespace (newlines included) becomes one space."""
    return " ".join(text.split())


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every occurrence of a secret replaced by ``***`` (for messages built from
    foreign text: an Odoo fault or a traceback may echo what it was sent). Whole occurrences
    only: a secret that starts or ends with a letter, digit or ``_`` is not replaced inside a
    longer word, so the password ``admin`` leaves "administrator" alone (the secret is not
    there, only its letters) while "user admin:" becomes "user ***:"."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        before = r"(?<!\w)" if re.match(r"\w", secret[0]) else ""
        after = r"(?!\w)" if re.match(r"\w", secret[-1]) else ""
        text = re.sub(before + re.escape(secret) + after, "***", text)
    return text


class SyncdError(Exception):
    """Base of every error syncd raises on purpose."""


class ConfigError(SyncdError):
    """The configuration (file, environment or flags) is invalid; nothing was contacted."""


class LockedError(SyncdError):
    """Another syncd process holds the data directory."""


class PassInterrupted(SyncdError):
    """A stop was requested during the pass; nothing of it was committed."""


class SinkError(SyncdError):
    """The sink's storage (a database server) is unreachable or refused; the pass fails
    (exit 1). The message is the server's reason, without secrets."""


class CorruptFileError(SyncdError):
    """A local state or snapshot file cannot be parsed."""


class OdooError(SyncdError):
    """Talking to Odoo failed."""


class TransientError(OdooError):
    """Worth retrying: connection error, timeout, HTTP 429/502/503/504, truncated or malformed body."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EndpointError(OdooError):
    """The server answered 404 without an Odoo error: it has no such API route (not an Odoo, or
    not one that speaks the protocol in use)."""


class AuthError(OdooError):
    """Odoo refused the credentials (or the API key); retrying will not help."""


class FaultError(OdooError):
    """Odoo answered with an error (a fault); ``name`` is Odoo's exception class name."""

    def __init__(self, message: str, name: str = "", code: int | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.code = code


class UnknownModelError(FaultError):
    """The model does not exist on this Odoo (or its module is not installed)."""


class InvalidFieldError(FaultError):
    """A requested field does not exist on the model."""


def current_user() -> str:
    """This process's user name, for messages that say whose a file must be (not $USER, which
    su and setpriv leave as it was)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, AttributeError):
        return os.environ.get("USERNAME") or os.environ.get("USER") or "this user"
