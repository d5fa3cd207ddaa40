"""Odoo's error answers, turned into syncd's error types with one clear line each.

Odoo reports a failed call as an exception ``name`` (``odoo.exceptions.AccessDenied``,
``builtins.ValueError``, ...) and a message; over XML-RPC the message of an application error
is a whole server traceback (faultCode 1) whose *last* line is the useful one. Which error we
raise decides what the caller does: ``AuthError`` (fix the credentials or the database name),
``UnknownModelError`` / ``InvalidFieldError`` (fix the configuration; the sync leaves a missing
field out), anything else ``FaultError``. None of them is retried. Every message is scrubbed of
the configured secrets, since servers echo request parameters in their errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from syncd.errors import (AuthError, FaultError, InvalidFieldError, OdooError, UnknownModelError,
                          scrub)

# "ValueError: Invalid field ..." / "odoo.exceptions.UserError: ..." at the start of a line
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Denied|Warning|Fault|Found)"
                             r"|[A-Za-z_][\w.]*\.[A-Z]\w*): (.*)$")
_UNKNOWN_DATABASE = re.compile(r"database [\"']?([^\"'\s]+)[\"']? (?:does not exist|not found)")
_UNKNOWN_MODEL = re.compile(r"Object (\S+) doesn't exist|model '?([\w.]+)'? does not exist")
_INVALID_FIELD = re.compile(r"Invalid field '?([^'\s]+)'?")


@dataclass(frozen=True)
class Account:
    """Who we are on which server, for messages (no secrets; they are only for scrubbing)."""

    where: str
    database: str
    username: str
    secrets: tuple[str, ...] = ()


def fault_line(text: str) -> tuple[str, str]:
    """(exception name or "", one-line message) of an Odoo error text.

    A traceback yields its final exception line (with the lines that continue it); any other
    multi-line text is joined into one line.
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "", ""
    if lines[0].startswith("Traceback (most recent call last)"):
        for index in range(len(lines) - 1, 0, -1):
            match = _EXCEPTION_LINE.match(lines[index])
            if match:
                rest = " ".join([match.group(2), *lines[index + 1:]]).strip()
                return match.group(1), rest
        return "", lines[-1]
    return "", " ".join(lines)


def auth_error(account: Account, *, api_key: bool = False) -> AuthError:
    what = "the API key" if api_key else "the credentials"
    return AuthError(scrub(f"Odoo refused {what} for user {account.username!r} on database "
                           f"{account.database!r} at {account.where}", account.secrets))


def fault_error(account: Account, name: str, message: str, *, code: int | str | None = None,
                call: str = "") -> OdooError:
    """The error for Odoo's fault ``name``/``message`` (a traceback is reduced to its last
    exception line) raised by ``call`` ("model.method", or "" for login/version)."""
    traced_name, text = fault_line(message)
    name = name or traced_name
    text = scrub(text, account.secrets)
    short = name.rsplit(".", 1)[-1]
    numeric = code if isinstance(code, int) else None
    if short == "AccessDenied" or code in (3, "AccessDenied") or short == "Unauthorized":
        return auth_error(account, api_key=short == "Unauthorized")
    if short == "AssertionError" and "scope and key required" in text:
        # Odoo 18 with an empty password: res.users.apikeys._check_credentials asserts
        # where 17 answers False (docs/odoo-api.md §16)
        return auth_error(account)
    database = _UNKNOWN_DATABASE.search(text)
    if database:
        return AuthError(scrub(f"Odoo at {account.where} has no database {account.database!r} "
                               "(check [odoo].database or ODOO_DB)", account.secrets))
    prefix = f"{call}: " if call else ""
    model = _UNKNOWN_MODEL.search(text)
    if model or (short == "KeyError" and call and text.strip("'\"") == call.rpartition(".")[0]):
        missing = (model.group(1) or model.group(2)) if model else call.rpartition(".")[0]
        return UnknownModelError(f"Odoo has no model {missing!r} (is its module installed?)",
                                 name, numeric)
    if _INVALID_FIELD.search(text):
        return InvalidFieldError(f"{prefix}{text}", name, numeric)
    shown = f"{short}: {text}" if short and short not in ("UserError", "ValidationError") else text
    return FaultError(f"{prefix}{shown or 'Odoo reported an error without a message'}", name,
                      numeric)
