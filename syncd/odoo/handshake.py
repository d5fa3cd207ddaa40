"""What ``OdooClient.connect`` learns, kept between processes so a one-shot pass need not ask again.

A handshake is the server's version, the protocol chosen, the uid and the lang the reads pass,
with when it was probed and the settings it was probed for (url without credentials, database,
username, ``[odoo] protocol``, ``[odoo] lang``, whether an API key was set). It never holds the
password or the API key: ``execute_kw`` (and JSON-2's bearer token) carry the secret on every call
and Odoo checks it there, so a kept uid is as safe as a fresh one, and a stale one is refused.

Plain values only (``to_dict``/``from_dict``): the sync keeps it in its committed state, and this
package never imports the sync's types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

# A kept handshake older than this is probed again (a server upgrade, a new default language).
MAX_AGE = 86400.0
_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Identity:
    """The settings a handshake was made for; any difference makes it stale."""

    url: str  # without credentials
    database: str
    username: str
    wanted: str  # [odoo] protocol, e.g. "auto"
    lang_setting: str  # [odoo] lang ("" = the user's)
    keyed: bool  # an API key was set (protocol auto picks JSON-2 with one, on 19+)


@dataclass(frozen=True)
class Handshake:
    identity: Identity
    version: str
    major: int
    protocol: str
    uid: int
    lang: str
    probed: float  # seconds since the epoch (wall clock) when the server was asked

    def stale(self, identity: Identity, now: float) -> str:
        """Why this handshake cannot be used for ``identity`` at ``now`` ("" if it can)."""
        if identity != self.identity:
            changed = [name for name, value in asdict(identity).items()
                       if asdict(self.identity)[name] != value]
            return "settings changed: " + ", ".join(changed)
        age = now - self.probed
        if age < 0 or age > MAX_AGE:
            return f"probed {age / 3600:.1f} h ago"
        return ""

    def to_dict(self) -> dict[str, Any]:
        moment = datetime.fromtimestamp(self.probed, UTC).strftime(_FORMAT)
        return {**asdict(self.identity), "version": self.version, "major": self.major,
                "protocol": self.protocol, "uid": self.uid, "lang": self.lang,
                "probed": moment}

    @classmethod
    def from_dict(cls, data: object) -> Handshake | None:
        """The handshake in ``data``, or None for anything else (missing, an older or newer
        shape, a wrong type): a handshake is only a shortcut, never worth failing a pass."""
        if not isinstance(data, dict):
            return None
        try:
            identity = Identity(url=_get(data, "url", str), database=_get(data, "database", str),
                                username=_get(data, "username", str),
                                wanted=_get(data, "wanted", str),
                                lang_setting=_get(data, "lang_setting", str),
                                keyed=_get(data, "keyed", bool))
            probed = datetime.strptime(_get(data, "probed", str), _FORMAT).replace(tzinfo=UTC)
            uid = _get(data, "uid", int)
            if uid <= 0:
                return None
            return cls(identity=identity, version=_get(data, "version", str),
                       major=_get(data, "major", int), protocol=_get(data, "protocol", str),
                       uid=uid, lang=_get(data, "lang", str), probed=probed.timestamp())
        except (KeyError, TypeError, ValueError):
            return None


def _get(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(key)
    return value
