"""A kept handshake: a client resumed from what an earlier one learned makes no request of its own,
and a stale one (refused uid, gone route, old, other settings) is probed again exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from syncd.emulator import Emulator
from syncd.errors import AuthError
from syncd.odoo.client import OdooClient
from syncd.odoo.handshake import MAX_AGE
from syncd.settings import OdooSettings

T0 = 1_800_000_000.0  # the wall clock of the first connect


@pytest.fixture(params=[("jsonrpc", 17), ("xmlrpc", 17), ("json2", 19)], ids=lambda p: p[0])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[Emulator, OdooSettings]]:
    protocol, version = request.param
    em = Emulator(version=version)
    url = em.start()
    em.db.create("res.partner", {"name": "Azure Interior", "is_company": True})
    settings = OdooSettings(url=url, database=em.db.name, username=em.login,
                            password=em.password,
                            api_key=em.api_key if protocol == "json2" else "",
                            protocol=protocol, timeout=10)
    yield em, settings
    em.stop()


def client(settings: OdooSettings, at: float = T0) -> OdooClient:
    return OdooClient(settings, sleep=lambda s: None, wall=lambda: at)


def kept(settings: OdooSettings) -> dict[str, Any]:
    with client(settings) as first:
        first.connect()
        handshake = first.handshake
    assert handshake is not None
    return handshake


def names(c: OdooClient) -> list[str]:
    return [row["name"] for row in c.search_read("res.partner", [["is_company", "=", True]],
                                                 ["name"], order="id")]


def test_a_resumed_client_makes_only_its_calls(served: tuple[Emulator, OdooSettings]) -> None:
    em, settings = served
    handshake = kept(settings)
    em.stats.reset()
    with client(settings, T0 + MAX_AGE - 1) as second:
        assert second.resume(handshake)
        assert second.info is not None and second.info.uid == handshake["uid"]
        assert names(second) == ["Azure Interior"]
        assert second.handshake == handshake
    assert (em.stats.requests, em.stats.logins) == (1, 0)


def test_the_handshake_holds_no_secret(served: tuple[Emulator, OdooSettings]) -> None:
    em, settings = served
    em.db.add_user("sync", "S3cr3t-Pa55-zq9", "k3y-Zx81-qq")
    settings = replace(settings, url=settings.url.replace("://", "://joe:pw9x@"),
                       username="sync", password="S3cr3t-Pa55-zq9",
                       api_key="k3y-Zx81-qq" if settings.api_key else "")
    text = repr(kept(settings))
    for secret in ("S3cr3t", "k3y-Zx81", "pw9x"):
        assert secret not in text


@pytest.mark.parametrize("change", [
    {"database": "other"}, {"username": "someone"}, {"lang": "fr_FR"}, {"protocol": "xmlrpc"},
    {"url": "http://127.0.0.1:1/"},
])
def test_other_settings_do_not_resume(served: tuple[Emulator, OdooSettings],
                                      change: dict[str, str]) -> None:
    _, settings = served
    handshake = kept(settings)
    changed = replace(settings, **change)
    if changed.protocol == settings.protocol and "protocol" in change:
        changed = replace(changed, protocol="jsonrpc")
    with client(changed) as second:
        assert not second.resume(handshake)
        assert second.info is None


def test_an_api_key_added_does_not_resume(served: tuple[Emulator, OdooSettings]) -> None:
    _, settings = served
    handshake = kept(settings)
    with client(replace(settings, api_key="" if settings.api_key else "k3y")) as second:
        assert not second.resume(handshake)


@pytest.mark.parametrize("age", [MAX_AGE + 1, -60])
def test_an_old_handshake_is_probed_again(served: tuple[Emulator, OdooSettings],
                                          age: float) -> None:
    em, settings = served
    handshake = kept(settings)
    em.stats.reset()
    with client(settings, T0 + age) as second:
        assert not second.resume(handshake)
        assert names(second) == ["Azure Interior"]
        renewed = second.handshake
    assert em.stats.calls("res.users", "context_get") == 1  # one probe, on every protocol
    assert renewed is not None and renewed["probed"] != handshake["probed"]


@pytest.mark.parametrize("bad", [None, [], {}, {"uid": 2}, "x"])
def test_a_malformed_handshake_is_ignored(served: tuple[Emulator, OdooSettings],
                                          bad: object) -> None:
    _, settings = served
    with client(settings) as second:
        assert not second.resume(bad)
    with client(settings) as third:
        assert not third.resume({**kept(settings), "uid": "2"})


def test_a_refused_uid_is_probed_once_then_the_call_retried(
        served: tuple[Emulator, OdooSettings]) -> None:
    em, settings = served
    if settings.protocol == "json2":
        pytest.skip("JSON-2 sends no uid: the API key names the user on every call")
    handshake = kept(settings)
    em.db.unlink("res.users", [handshake["uid"]])  # the user deleted and made again
    new_uid = em.db.add_user(settings.username, settings.password)
    em.stats.reset()
    with client(settings) as second:
        assert second.resume(handshake)
        assert names(second) == ["Azure Interior"]
        assert names(second) == ["Azure Interior"]
        assert second.info is not None and second.info.uid == new_uid
        assert second.handshake is not None and second.handshake["uid"] == new_uid
    assert em.stats.logins == 1
    # the refused call, the probe (version, login, context_get), the retry, the second call
    assert em.stats.requests == 6
    assert em.stats.calls("res.partner", "search_read") == 2  # the refused one is not served


def test_a_changed_password_fails_cleanly_after_one_login(
        served: tuple[Emulator, OdooSettings]) -> None:
    em, settings = served
    handshake = kept(settings)
    em.db.set_password(handshake["uid"], "n3w-pa55")
    if settings.protocol == "json2":
        settings = replace(settings, api_key="revoked-key")
    em.stats.reset()
    with client(settings) as second:
        assert second.resume(handshake)
        with pytest.raises(AuthError, match="Odoo refused"):
            names(second)
    assert em.stats.logins == (0 if settings.protocol == "json2" else 1)
    # never looped: the refused call, version, the refused login; nothing after
    assert em.stats.requests == 3


def test_a_changed_password_in_the_settings_keeps_the_uid(
        served: tuple[Emulator, OdooSettings]) -> None:
    em, settings = served
    if settings.protocol == "json2":
        pytest.skip("JSON-2 sends the API key, which a password change leaves alone")
    handshake = kept(settings)
    em.db.set_password(handshake["uid"], "n3w-pa55")
    em.stats.reset()
    with client(replace(settings, password="n3w-pa55")) as second:
        assert second.resume(handshake)
        assert names(second) == ["Azure Interior"]
    assert (em.stats.requests, em.stats.logins) == (1, 0)


def test_a_refusal_after_the_kept_uid_worked_is_not_staleness(
        served: tuple[Emulator, OdooSettings]) -> None:
    em, settings = served
    handshake = kept(settings)
    with client(settings) as second:
        assert second.resume(handshake)
        names(second)
        em.db.set_password(handshake["uid"], "n3w-pa55")
        if settings.protocol == "json2":
            em.db.unlink("res.users", [handshake["uid"]])
        em.stats.reset()
        with pytest.raises(AuthError):
            names(second)
    assert em.stats.logins == 0 and em.stats.requests == 1


def test_a_gone_route_is_probed_again() -> None:
    em = Emulator(version=17)  # no /json/2 before 19
    url = em.start()
    try:
        settings = OdooSettings(url=url, database=em.db.name, username=em.login,
                                password=em.password, api_key=em.api_key, protocol="auto",
                                timeout=10)
        handshake = kept(settings)
        assert handshake["protocol"] == "jsonrpc"
        # as if kept while the server was a 19 (then downgraded, or restored from a backup)
        stale = {**handshake, "protocol": "json2", "major": 19, "version": "19.0"}
        em.stats.reset()
        with client(settings) as second:
            assert second.resume(stale)
            assert names(second) == []
            assert second.info is not None and second.info.protocol == "jsonrpc"
        assert em.stats.logins == 1
        assert em.stats.by_path.get("/json/2/res.partner/search_read") == 1
    finally:
        em.stop()
