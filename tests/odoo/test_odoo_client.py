"""OdooClient against the emulator over real HTTP: protocol choice, one login, retries, secrets."""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterator
from email.utils import formatdate
from typing import Any

import pytest
from loguru import logger

from syncd.settings import OdooSettings
from syncd.emulator import Emulator
from syncd.emulator.services import release_version
from syncd.errors import AuthError, FaultError, InvalidFieldError, OdooError, TransientError
from syncd.odoo.client import OdooClient, major_version
from syncd.odoo.retry import RETRY_AFTER_CAP, Backoff, parse_retry_after

SECRET = "Zebra-7f3c-S3CR3T-pass"


class Sleeps(list[float]):
    """An injected sleep that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def settings_for(em: Emulator, protocol: str = "auto", *, api_key: bool = False,
                 **changes: Any) -> OdooSettings:
    values: dict[str, Any] = dict(url=em.url, database=em.db.name, username=em.login,
                                  password=em.password, api_key=em.api_key if api_key else "",
                                  protocol=protocol, timeout=10)
    values.update(changes)
    return OdooSettings(**values)


@pytest.fixture
def odoo17(emulator: Callable[..., Emulator]) -> Emulator:
    em = emulator(17)
    for n in range(5):
        em.db.create("res.partner", {"name": f"Partner {n}"})
    return em


@pytest.fixture
def client(odoo17: Emulator) -> Iterator[tuple[OdooClient, Sleeps]]:
    sleeps = Sleeps()
    c = OdooClient(settings_for(odoo17), sleep=sleeps, rng=random.Random(7))
    c.connect()
    yield c, sleeps
    c.close()


# -- protocol choice and login ----------------------------------------------------------------
@pytest.mark.parametrize("version, api_key, expected", [
    (19, True, "json2"), (19, False, "jsonrpc"), (17, True, "jsonrpc"), (17, False, "jsonrpc"),
    (16, False, "jsonrpc"),
])
def test_auto_protocol(emulator: Callable[..., Emulator], version: int, api_key: bool,
                       expected: str) -> None:
    em = emulator(version)
    with OdooClient(settings_for(em, api_key=api_key), sleep=Sleeps()) as c:
        info = c.connect()
        assert c.search_count("res.partner", []) >= 0
    # the version as the server says it, build date included ("17.0-20240709"): check prints it
    assert (info.protocol, info.major, info.version) == (expected, version,
                                                         release_version(version))
    assert info.uid == em.db.authenticate(em.login, em.password)
    if expected == "json2":  # nothing went over the deprecated endpoints
        assert em.stats.deprecated_calls == 0
        assert em.stats.calls("res.partner", "search_count") == 1


@pytest.mark.parametrize("version, expected", [(17, "jsonrpc"), (19, "json2")])
def test_auto_asks_jsonrpc_for_the_version_where_web_version_is_missing(
        emulator: Callable[..., Emulator], version: int, expected: str) -> None:
    em = emulator(version)
    em.faults.add("html", path="/web/version", status=404)  # an Odoo without that route
    sleeps = Sleeps()
    with OdooClient(settings_for(em, api_key=True), sleep=sleeps) as c:
        assert c.connect().protocol == expected
        assert c.search_count("res.partner", []) >= 0
    assert sleeps == [] and em.stats.logins == (1 if expected == "jsonrpc" else 0)
    # version, login, the user's lang (context_get), the count; JSON-2's login gives the lang
    assert em.stats.by_path["/jsonrpc"] == (4 if expected == "jsonrpc" else 1)


def test_explicit_protocol_is_honoured(emulator: Callable[..., Emulator]) -> None:
    em = emulator(19)
    with OdooClient(settings_for(em, "xmlrpc", api_key=True), sleep=Sleeps()) as c:
        assert c.connect().protocol == "xmlrpc"
        c.search("res.partner", [])
    assert set(em.stats.by_path) == {"/xmlrpc/2/common", "/xmlrpc/2/object"}


def test_json2_on_an_older_server_or_without_a_key_is_a_clear_error(
        emulator: Callable[..., Emulator]) -> None:
    odoo17 = emulator(17)  # answers /web/version 404, as Odoo before 19 does
    with OdooClient(settings_for(odoo17, "json2", api_key=True), sleep=Sleeps()) as c:
        with pytest.raises(OdooError, match="needs Odoo 19 or later; this server is Odoo 17"):
            c.connect()
    # the version came over JSON-RPC, once, and nothing logged in
    assert odoo17.stats.by_path["/web/version"] == 1 and odoo17.stats.by_path["/jsonrpc"] == 1
    assert odoo17.stats.logins == 0
    with OdooClient(settings_for(emulator(19), "json2"), sleep=Sleeps()) as c:
        with pytest.raises(OdooError, match="needs an API key"):
            c.connect()


def test_login_happens_once_for_many_calls(odoo17: Emulator,
                                           client: tuple[OdooClient, Sleeps]) -> None:
    c, _ = client
    for _ in range(10):
        c.search_read("res.partner", [], ["name"], limit=2, order="id")
        c.search_count("res.partner", [])
    c.connect()
    assert odoo17.stats.logins == 1
    assert c.requests == 3 + 20  # version + login + the user's lang (context_get) + the calls


def test_calls_connect_on_first_use(odoo17: Emulator) -> None:
    with OdooClient(settings_for(odoo17), sleep=Sleeps()) as c:
        assert c.info is None
        assert c.read("res.partner", [1, 2, 10**6], ["name"]) != []
        assert c.info is not None and odoo17.stats.logins == 1


def test_major_version_of_saas_builds() -> None:
    assert major_version({"server_version": "saas~18.2+e",
                          "server_version_info": ["saas~18", 2, 0, "final", 0, "e"]}) == 18
    assert major_version({"server_version": "17.0", "server_version_info": [17, 0]}) == 17


# -- retries ----------------------------------------------------------------------------------
def test_503_twice_then_success_backs_off_exponentially_with_jitter(
        odoo17: Emulator, client: tuple[OdooClient, Sleeps]) -> None:
    c, sleeps = client
    odoo17.faults.add("http_503", times=2)
    before = c.requests
    assert c.search_count("res.partner", []) == 5
    assert c.requests - before == 3
    expected = random.Random(7)
    assert sleeps == [expected.uniform(0, 0.5), expected.uniform(0, 1.0)]


def test_backoff_is_capped_and_jittered() -> None:
    backoff = Backoff(base=1.0, cap=4.0, rng=random.Random(3))
    delays = [backoff.delay(n) for n in range(40)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert all(d <= 2 ** n for n, d in enumerate(delays))
    assert len(set(delays)) == len(delays)  # jittered, never lock-step
    assert max(delays[10:]) > 2.0  # the cap, not the first steps, bounds later attempts
    assert backoff.delay(3, retry_after=7) == 7
    assert backoff.delay(3, retry_after=10_000) == RETRY_AFTER_CAP


def test_429_honours_retry_after(odoo17: Emulator, client: tuple[OdooClient, Sleeps]) -> None:
    c, sleeps = client
    odoo17.faults.add("http_429", retry_after=7)
    assert c.search_count("res.partner", []) == 5
    assert sleeps == [7.0]


def test_retry_after_as_http_date_and_garbage() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after(formatdate(now + 42, usegmt=True), now=now) == 42
    assert parse_retry_after(formatdate(now - 42, usegmt=True), now=now) == 0
    assert parse_retry_after(formatdate(now + 10**6, usegmt=True), now=now) == RETRY_AFTER_CAP
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("kind, params, keep_alive, expected_sleeps", [
    # Odoo closes every connection: each drop hits a fresh one and is a retry
    ("drop", {}, False, 2),
    # behind a keep-alive proxy the first drop hits the reused socket and is resent
    # transparently (no retry counted); the resend, on a fresh socket, is a retry
    ("drop", {}, True, 1),
    ("truncate", {}, False, 2),
    ("malformed", {}, False, 2),
    ("html", {}, False, 2),
    ("html", {"status": 200}, False, 2),
    ("http_500", {}, False, 2),
    ("http_502", {}, False, 2),
    ("http_504", {}, False, 2),
])
def test_broken_answers_are_retried(emulator: Callable[..., Emulator], kind: str,
                                    params: dict[str, Any], keep_alive: bool,
                                    expected_sleeps: int) -> None:
    em = emulator(17, keep_alive=keep_alive)
    em.db.create("res.partner", {"name": "Partner 3"})
    sleeps = Sleeps()
    with OdooClient(settings_for(em), sleep=sleeps, rng=random.Random(7)) as c:
        c.connect()
        em.faults.add(kind, times=2, **params)
        rows = c.search_read("res.partner", [["name", "=", "Partner 3"]], ["name"])
    assert [r["name"] for r in rows] == ["Partner 3"]
    assert len(sleeps) == expected_sleeps


def test_a_timeout_is_transient(odoo17: Emulator) -> None:
    sleeps = Sleeps()
    with OdooClient(settings_for(odoo17, timeout=0.3), sleep=sleeps) as c:
        c.connect()
        odoo17.faults.add("latency", seconds=3)
        assert c.search_count("res.partner", []) == 5
    assert len(sleeps) == 1


def test_attempts_exhausted_raise_the_last_transient_error(
        odoo17: Emulator) -> None:
    sleeps = Sleeps()
    with OdooClient(settings_for(odoo17), sleep=sleeps, attempts=3) as c:
        c.connect()
        odoo17.faults.add("http_503", times=10)
        with pytest.raises(TransientError, match=r"HTTP 503 .*after 3 attempts"):
            c.search_count("res.partner", [])
    assert len(sleeps) == 2


def test_connection_refused_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()
    settings = OdooSettings(url=f"http://127.0.0.1:{port}", database="odoo", username="admin",
                            password=SECRET, timeout=2)
    with OdooClient(settings, sleep=sleeps, attempts=2) as c:
        with pytest.raises(TransientError, match="after 2 attempts") as caught:
            c.connect()
    assert "refused" in str(caught.value).lower()
    assert len(sleeps) == 1


def test_an_odoo_fault_is_not_retried(emulator: Callable[..., Emulator]) -> None:
    em = emulator(19)
    sleeps = Sleeps()
    with OdooClient(settings_for(em, api_key=True), sleep=sleeps) as c:
        c.connect()
        before = c.requests
        with pytest.raises(FaultError) as caught:  # an HTTP 500 with an Odoo error body
            c.search_read("res.partner", [["name", "~~", "x"]], ["name"])
        assert c.requests - before == 1 and sleeps == []
        assert caught.value.name
        with pytest.raises(InvalidFieldError, match="nope_field"):
            c.search_read("res.partner", [], ["nope_field"])


def test_refused_credentials_are_not_retried(odoo17: Emulator) -> None:
    sleeps = Sleeps()
    with OdooClient(settings_for(odoo17, password="wrong"), sleep=sleeps) as c:
        with pytest.raises(AuthError, match="Odoo refused the credentials for user 'admin' on "
                                            "database 'odoo'"):
            c.connect()
        assert c.requests == 2 and c.info is None
    assert sleeps == [] and odoo17.stats.logins == 1


@pytest.mark.parametrize("version", [17, 18])
def test_an_empty_password_is_refused_credentials_on_17_and_18(
        emulator: Callable[..., Emulator], version: int) -> None:
    """17 answers False; 18 faults in res.users.apikeys._check_credentials (AssertionError:
    scope and key required): both are the same refused-credentials error."""
    em = emulator(version)
    with OdooClient(settings_for(em, password=""), sleep=Sleeps()) as c:
        with pytest.raises(AuthError, match="Odoo refused the credentials for user 'admin'"):
            c.connect()


def test_an_unknown_database_is_a_clear_fatal_error(odoo17: Emulator) -> None:
    sleeps = Sleeps()
    with OdooClient(settings_for(odoo17, database="nope_db"), sleep=sleeps) as c:
        with pytest.raises(AuthError, match="no database 'nope_db'"):
            c.connect()
    assert sleeps == []


# -- secrets ------------------------------------------------------------------------------------
def test_secrets_never_appear_in_errors_logs_or_repr(emulator: Callable[..., Emulator]) -> None:
    em = emulator(19)
    em.db.add_user("robot", SECRET, api_key=SECRET + "-key")
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG", format="{message}")
    errors: list[BaseException] = []
    try:
        for protocol, api_key in (("jsonrpc", ""), ("xmlrpc", ""), ("json2", SECRET + "-key")):
            settings = OdooSettings(url=em.url, database="odoo", username="robot",
                                    password=SECRET, api_key=api_key, protocol=protocol,
                                    timeout=5)
            with OdooClient(settings, sleep=Sleeps(), attempts=2) as c:
                assert SECRET not in repr(c) and SECRET not in repr(settings)
                em.faults.add("http_503")
                c.connect()
                for bad in (lambda: c.search_read("res.partner", [], [SECRET]),
                            lambda: c.search_read("res.partner", [["name", SECRET, "x"]],
                                                  ["name"])):
                    with pytest.raises(OdooError) as caught:
                        bad()
                    errors.append(caught.value)
                em.faults.add("http_503", times=5)
                with pytest.raises(TransientError) as transient:
                    c.search_count("res.partner", [])
                errors.append(transient.value)
            wrong = OdooSettings(url=em.url, database="odoo", username="robot",
                                 password=SECRET + "x", api_key=api_key and api_key + "x",
                                 protocol=protocol, timeout=5)
            with OdooClient(wrong, sleep=Sleeps()) as c, pytest.raises(AuthError) as refused:
                c.connect()
            errors.append(refused.value)
    finally:
        logger.remove(sink)
    assert len(errors) == 12
    assert any("***" in str(e) for e in errors)  # the server echoed it; we scrubbed it
    for error in errors:
        assert SECRET not in str(error) and SECRET not in repr(error.args)
    assert lines and not any(SECRET in line for line in lines)


def test_url_credentials_never_show(odoo17: Emulator) -> None:
    url = odoo17.url.replace("http://", f"http://someone:{SECRET}@")
    with OdooClient(settings_for(odoo17, url=url + "/nowhere"), sleep=Sleeps()) as c:
        assert SECRET not in repr(c)
        with pytest.raises(OdooError) as caught:  # 404: not an Odoo URL; not retried
            c.connect()
    assert not isinstance(caught.value, TransientError)
    assert SECRET not in str(caught.value) and "is http://127.0.0.1" in str(caught.value)
