"""Benchmark: index 100,000 customers and 100,000 products, then match emails one by one.

Prints figures, asserts nothing. The records are real synced ones: the emulator's demo data
(companies with their contacts at the company's domain, products with default codes and EAN-13
barcodes) served over HTTP on 127.0.0.1 and synced by one full pass into a JSON sink; the index
is built from what the sink stores (``sink.records``), as ``syncd match`` does.

    .venv/bin/python scripts/bench_matcher.py                       # 100,000 + 100,000
    .venv/bin/python scripts/bench_matcher.py --customers 10000 --products 10000 --emails 200

Emails are generated from random records: the sender is a contact's exact address, a stranger
at its company's domain, or a free-mail address with the contact's name in the signature; the
subject or body names a product by default code, barcode or name, inside 30 lines of filler
and a quoted reply; one in three has an HTML alternative. "found" is how often the record an
email was made from is among the top 5 (a sanity check of the rules, not a quality benchmark).
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # `python scripts/<this>.py` with any Python: syncd must import
    from repo_venv import use_repo_venv

    use_repo_venv()

from loguru import logger

from syncd.settings import OdooSettings, Settings, SyncSettings
from syncd.consumer.index import Index
from syncd.consumer.load import records
from syncd.consumer.matcher import match_email
from syncd.emulator import Emulator
from syncd.emulator.demo_data import populate
from syncd.odoo.client import OdooClient
from syncd.sinks.datadir import DataDir
from syncd.sinks.json.sink import JsonSink
from syncd.sinks.factory import opened
from syncd.sync.engine import run_pass

FILLER = ("thanks for the quick reply yesterday we discussed the delivery schedule for next "
          "month and the warehouse team asked whether the pallets can arrive before noon "
          "please also confirm the invoice address and the payment terms we agreed").split()


def filler(rng: random.Random, lines: int) -> str:
    return "\n".join(" ".join(rng.choices(FILLER, k=12)) for _ in range(lines))


def make_email(rng: random.Random, contact: dict[str, Any], product: dict[str, Any]) -> bytes:
    message = EmailMessage()
    domain = str(contact["email"]).rpartition("@")[2]
    how = rng.choice(["exact", "domain", "freemail"])
    signature = f"-- \n{contact['name']}\n"
    if how == "exact":
        message["From"] = f"{contact['name']} <{contact['email']}>"
    elif how == "domain":
        message["From"] = f"purchasing{rng.randint(1, 999)}@{domain}"
        signature = "-- \nPurchasing\n"
    else:
        message["From"] = f"someone{rng.randint(1, 99999)}@gmail.com"
    mention = rng.choice(["default_code", "barcode", "name"])
    thing = product[mention] or product["name"]
    subject, line = ("Order", f"We need 12 of {thing} by Friday.") if rng.random() < 0.5 \
        else (f"Order {thing}", "See the subject.")
    message["Subject"] = subject
    message["To"] = "sales@example.com"
    quoted = "\n".join(f"> {row}" for row in filler(rng, 10).splitlines())
    text = f"Hello,\n\n{line}\n\n{filler(rng, 30)}\n\n{quoted}\n\n{signature}"
    message.set_content(text, cte="quoted-printable")
    if rng.random() < 1 / 3:
        message.add_alternative(f"<html><body><p>{line}</p><p>{filler(rng, 30)}</p>"
                                f"<pre>{signature}</pre></body></html>", subtype="html")
    return bytes(message)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--emails", type=int, default=1000)
    args = parser.parse_args()
    logger.remove()  # the pass's log lines are not figures
    em = Emulator(version=17)
    started = time.perf_counter()
    populate(em.db, customers=args.customers, products=args.products, seed=1)
    print(f"emulator filled in {time.perf_counter() - started:.1f} s")
    em.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(odoo=OdooSettings(url=em.url, database=em.db.name,
                                                  username=em.login, password=em.password),
                                sync=SyncSettings(data_dir=Path(tmp), page_size=5000))
            started = time.perf_counter()
            with OdooClient(settings.odoo) as client:
                with opened(settings) as sink:
                    report = run_pass(settings, client, sink, DataDir(settings.sync.data_dir))
            assert report.ok, report.error
            print(f"synced in {time.perf_counter() - started:.1f} s (one full pass over HTTP)")
            bench(JsonSink(DataDir(Path(tmp))), args.emails)
    finally:
        em.stop()


def bench(sink: JsonSink, emails: int) -> None:
    started = time.perf_counter()
    customers, products = list(records(sink, "customers")), list(records(sink, "products"))
    read = time.perf_counter() - started
    started = time.perf_counter()
    index = Index.build(customers, products)
    built = time.perf_counter() - started
    print(f"{len(customers):,} customers and {len(products):,} products: read from the sink in "
          f"{read:.2f} s, indexed in {built:.2f} s (total {read + built:.2f} s)")
    rng = random.Random(7)
    contacts = [c for c in customers if not c.get("is_company") and c.get("email")]
    cases = []
    for _ in range(emails):
        contact, product = rng.choice(contacts), rng.choice(products)
        cases.append((make_email(rng, contact, product), contact, product))
    times, found_customer, found_product = [], 0, 0
    for raw, contact, product in cases:
        started = time.perf_counter()
        result = match_email(raw, index)
        times.append((time.perf_counter() - started) * 1000)
        company = contact["parent_id"][0] if contact.get("parent_id") else None
        found_customer += any(c.id in (contact["id"], company) for c in result.customers)
        found_product += any(p.id == product["id"] or p.name == product["name"]
                             for p in result.products)
    times.sort()
    size = sum(len(raw) for raw, _, _ in cases) / len(cases)
    print(f"{emails} emails (about {size / 1024:.1f} KB each): per email median "
          f"{statistics.median(times):.2f} ms, p95 {times[int(len(times) * 0.95)]:.2f} ms, "
          f"max {times[-1]:.2f} ms")
    print(f"found: customer or its company {found_customer / emails:.0%}, "
          f"product (or one of the same name) {found_product / emails:.0%}")
    print(f"peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
          " MB (emulator included)")


if __name__ == "__main__":
    main()
