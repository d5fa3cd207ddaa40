"""`syncd match` as a user runs it, over data synced from the emulator: the real console script
for its answers, exit 1 and --watch; the command line run in this process (tests/in_process.py)
for the passes before them and the usage errors."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from queue import Empty, Queue
from typing import IO

import orjson
import pytest

from syncd.emulator import Emulator
from tests.in_process import cli
from tests.test_cli import SYNCD, environment, one_error_line, syncd

MUG_BARCODE = "4006381333931"


@pytest.fixture
def shop(emulator: Callable[..., Emulator]) -> Emulator:
    em = emulator(17)
    acme = em.db.create("res.partner", {"name": "Acme Widgets", "email": "info@acme-widgets.com",
                                        "is_company": True})
    em.db.create("res.partner", {"name": "Zoë Müller", "email": "zoe@acme-widgets.com",
                                 "is_company": False, "parent_id": acme})
    em.db.create("product.product", {"name": "Café Ünïcødé Mug", "default_code": "MUG-0042",
                                     "barcode": MUG_BARCODE, "list_price": 9.5})
    em.db.create("product.product", {"name": "Oak Desk", "default_code": "FURN-0001",
                                     "list_price": 300.0})
    return em


def ids(em: Emulator, model: str, name: str) -> int:
    found = em.db.execute(model, "search", [[["name", "=", name]]], {})
    assert len(found) == 1
    return int(found[0])


def write_eml(path: Path, sender: str, subject: str, body: str) -> Path:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "sales@example.com", subject
    message.set_content(body, cte="quoted-printable")
    path.write_bytes(bytes(message))
    return path


def synced(tmp_path: Path, em: Emulator) -> dict[str, str]:
    env = environment(tmp_path, em)
    result = cli(tmp_path, env, "once")
    assert result.returncode == 0, result.stderr
    return env


def test_json_lines_one_object_per_email_in_the_order_given(tmp_path: Path, shop: Emulator) -> None:
    env = synced(tmp_path, shop)
    zoe, acme = ids(shop, "res.partner", "Zoë Müller"), ids(shop, "res.partner", "Acme Widgets")
    mug, desk = ids(shop, "product.product", "Café Ünïcødé Mug"), \
        ids(shop, "product.product", "Oak Desk")
    b = write_eml(tmp_path / "b.eml", "Zoë Müller <zoe@acme-widgets.com>", "Order",
                  f"Twenty of {MUG_BARCODE}, please.\n")
    write_eml(tmp_path / "a.eml", "someone@gmail.com", "furn-0001?", "Is it in stock?\n")  # given relative
    none = write_eml(tmp_path / "none.eml", "x@unknown.example", "Lunch", "Friday?\n")
    result = syncd(tmp_path, env, "match", "--json", str(b), "a.eml", str(none))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    assert [orjson.loads(line) for line in lines] == [
        {"email": str(b),
         "customers": [{"id": zoe, "name": "Zoë Müller", "score": 1.0, "reason": "email"},
                       {"id": acme, "name": "Acme Widgets", "score": 0.9, "reason": "company"}],
         "products": [{"id": mug, "name": "Café Ünïcødé Mug", "score": 1.0, "reason": "barcode"}]},
        {"email": "a.eml", "customers": [],
         "products": [{"id": desk, "name": "Oak Desk", "score": 0.95, "reason": "default_code"}]},
        {"email": str(none), "customers": [], "products": []},
    ]
    first = orjson.loads(lines[0])
    assert list(first) == ["email", "customers", "products"]
    assert list(first["customers"][0]) == ["id", "name", "score", "reason"]
    assert '"score":1.0' in lines[0] and "Zoë Müller" in lines[0]  # a float, UTF-8 as is
    text = syncd(tmp_path, env, "match", "a.eml", str(none))
    assert text.returncode == 0
    assert text.stdout == (f"a.eml: customers: none; products: Oak Desk #{desk} "
                           f"(default_code 0.95)\n{none}: no match\n")


@pytest.mark.parametrize("bad", ["missing.eml", "a-directory.eml"])
def test_an_unreadable_file_exits_1_and_the_others_are_still_matched(
        tmp_path: Path, shop: Emulator, bad: str) -> None:
    env = synced(tmp_path, shop)
    (tmp_path / "a-directory.eml").mkdir()
    write_eml(tmp_path / "one.eml", "zoe@acme-widgets.com", "hi", "x\n")
    write_eml(tmp_path / "two.eml", "x@unknown.example", "MUG-0042", "x\n")
    result = syncd(tmp_path, env, "match", "--json", "one.eml", bad, "two.eml")
    assert result.returncode == 1
    assert bad in one_error_line(result)
    assert [orjson.loads(line)["email"] for line in result.stdout.splitlines()] == \
        ["one.eml", "two.eml"]


@pytest.mark.parametrize("args, says", [
    ((), "FILE.eml"),
    (("a.eml", "--customers", "clients"), "'clients'"),
    (("--watch", "no-such-dir"), "no-such-dir"),
    (("a.eml", "--no-such-option"), "--no-such-option"),
])
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    result = cli(tmp_path, environment(tmp_path), "match", *args)
    assert result.returncode == 2, result.stderr
    assert says in one_error_line(result) and result.stdout == ""


def test_nothing_synced_yet_exits_1(tmp_path: Path) -> None:
    write_eml(tmp_path / "a.eml", "x@unknown.example", "hi", "x\n")
    result = cli(tmp_path, environment(tmp_path), "match", "a.eml")
    assert result.returncode == 1
    assert "run 'syncd once' first" in one_error_line(result)


class Lines:
    """The lines of a child's pipe, read by a thread, awaited with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.queue: Queue[str] = Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.queue.put(line)

    def next_matching(self, wanted: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except Empty:
                raise AssertionError(f"no such line within {timeout} s; saw {self.seen}") from None
            self.seen.append(line)
            if wanted(line):
                return line


def test_watch_matches_each_new_email_and_sees_a_changed_record_after_a_sync(
        tmp_path: Path, shop: Emulator) -> None:
    env = synced(tmp_path, shop)
    zoe, acme = ids(shop, "res.partner", "Zoë Müller"), ids(shop, "res.partner", "Acme Widgets")
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    child = subprocess.Popen([SYNCD, "match", "--json", "--watch", str(maildir / "new")],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stderr is not None
        out, err = Lines(child.stdout), Lines(child.stderr)
        err.next_matching(lambda line: line.startswith("watching "))
        # Delivered as a maildir does: written in tmp/, moved into new/ (no .eml in the name).
        staged = write_eml(maildir / "tmp" / "1700000000.M1P1.host", "buyer@acme-widgets.com",
                           "Mugs", "Some Café Ünïcødé Mug please\n")
        os.rename(staged, maildir / "new" / staged.name)
        first = orjson.loads(out.next_matching(lambda line: True))
        assert first["email"] == str(maildir / "new" / staged.name)
        assert [(c["id"], c["reason"]) for c in first["customers"]] == \
            [(acme, "company"), (zoe, "domain")]
        assert first["products"][0]["reason"] == "product_name"
        shop.db.write("res.partner", zoe, {"email": "buyer@acme-widgets.com",
                                           "name": "Zoë Müller-Lang"})
        assert cli(tmp_path, env, "once").returncode == 0
        # Written in place, straight into new/ (read once closed).
        write_eml(maildir / "new" / "second.eml", "buyer@acme-widgets.com", "Again", "x\n")
        second = orjson.loads(out.next_matching(lambda line: True))
        assert second["email"] == str(maildir / "new" / "second.eml")
        assert second["customers"][:2] == [
            {"id": zoe, "name": "Zoë Müller-Lang", "score": 1.0, "reason": "email"},
            {"id": acme, "name": "Acme Widgets", "score": 0.9, "reason": "company"}]
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=20) == 0
        assert "Traceback" not in "".join(err.seen)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
