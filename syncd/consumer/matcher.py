"""The reference email matcher: the customers and products an email is most likely about.

``match_email(raw, index)`` reads one message (``syncd.consumer.mail``) and scores candidates
from an ``Index`` (``syncd.consumer.index``) by these rules, each a reason of the result:

========================  =====  ==========================================================
reason                    score  when
========================  =====  ==========================================================
``email``                 1.00   a customer's email is the sender's address
``company``               0.90   the company (``parent_id``) of an ``email`` match
``company``               0.80   no ``email`` match: a company owning the sender's domain
                                 (its email or website is there, or it is the parent of a
                                 contact whose email is there)
``domain``                0.60   no ``email`` match: a contact whose email domain is the
                                 sender's
``name``                  0.60   a customer's name is the sender's display name or appears in
                                 the signature
``barcode``               1.00   a valid EAN-13 in the subject or body is a product's barcode
``default_code``          0.95   a product's default code (SKU) is a word of subject or body
``product_name``          0.80   a product's name appears as written; 0.70 when only folded
                                 (case, accents and punctuation ignored); a name inside a
                                 longer one found there is not matched (the longest wins)
========================  =====  ==========================================================

Free-mail domains (``FREE_MAIL_DOMAINS``: gmail.com and the like) take no part in ``domain``
and ``company``. A candidate found by several rules scores ``1 - prod(1 - score)`` (two weak
signals together beat one) and keeps the reason of its strongest rule. At most ``LIMIT``
candidates per kind, best first (ties by id), none under ``THRESHOLD``.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from syncd.consumer.index import FREE_MAIL_DOMAINS, Index, valid_ean13
from syncd.consumer.load import records
from syncd.consumer.mail import Mail, parse_mail
from syncd.errors import ConfigError, SyncdError
from syncd.settings import Settings
from syncd.sync.seam import Reader

LIMIT = 5
THRESHOLD = 0.5
REASONS = ("email", "company", "domain", "name", "barcode", "default_code", "product_name")

_CODE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_EAN13 = re.compile(r"(?<!\d)\d{13}(?!\d)")


@dataclass(frozen=True)
class Candidate:
    """One customer or product an email is about: record ``id``, its ``name``, a ``score`` in
    0..1 and the ``reason`` (one of ``REASONS``) of its strongest rule."""

    id: int
    name: str
    score: float
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "score": self.score, "reason": self.reason}


@dataclass(frozen=True)
class Match:
    """The result for one email: ``email`` is its label (the file as given), the candidates
    best first."""

    email: str
    customers: tuple[Candidate, ...]
    products: tuple[Candidate, ...]

    def to_json(self) -> dict[str, Any]:
        return {"email": self.email, "customers": [c.to_json() for c in self.customers],
                "products": [p.to_json() for p in self.products]}


class _Scores:
    """Per record id: the rule scores found, combined as a noisy-or."""

    def __init__(self) -> None:
        self.rules: dict[int, dict[str, float]] = {}

    def add(self, ids: Iterable[int], reason: str, score: float) -> None:
        for record_id in ids:
            rules = self.rules.setdefault(record_id, {})
            rules[reason] = max(score, rules.get(reason, 0.0))

    def best(self, names: Any, limit: int, threshold: float) -> tuple[Candidate, ...]:
        ranked = []
        for record_id, rules in self.rules.items():
            miss = 1.0
            for score in rules.values():
                miss *= 1.0 - score
            score = round(1.0 - miss, 2)
            if score >= threshold:
                ranked.append((-score, record_id))
        # A common product name can give hundreds of candidates: only the best get a name.
        best = heapq.nsmallest(limit, ranked)
        return tuple(Candidate(record_id, names(record_id), -negative, self._reason(record_id))
                     for negative, record_id in best)

    def _reason(self, record_id: int) -> str:
        rules = self.rules[record_id]
        return max(rules, key=lambda r: (rules[r], -REASONS.index(r)))


def match_email(raw: bytes, index: Index, *, label: str = "", limit: int = LIMIT,
                threshold: float = THRESHOLD) -> Match:
    """The best customers and products for the message in ``raw`` (an ``.eml`` file's bytes).
    Never raises on a malformed message: it just matches less."""
    mail = parse_mail(raw)
    customers = _customers(mail, index)
    products = _products(mail, index)
    return Match(email=label,
                 customers=customers.best(index.customer_name, limit, threshold),
                 products=products.best(lambda i: index.product_names.get(i, ""), limit,
                                        threshold))


def _customers(mail: Mail, index: Index) -> _Scores:
    scores = _Scores()
    exact = index.by_email.get(mail.sender, []) if mail.sender else []
    scores.add(exact, "email", 1.0)
    scores.add((index.parent[i] for i in exact if i in index.parent), "company", 0.9)
    domain = mail.sender_domain
    if not exact and domain and domain not in FREE_MAIL_DOMAINS:
        scores.add(index.company_of_domain(domain), "company", 0.8)
        scores.add(index.contacts_by_domain.get(domain, ()), "domain", 0.6)
    for ids in index.people.find(f"{mail.sender_name}\n{mail.signature}").values():
        scores.add(ids, "name", 0.6)
    return scores


def _products(mail: Mail, index: Index) -> _Scores:
    scores = _Scores()
    text = f"{mail.subject}\n{mail.body}"
    for code in set(_EAN13.findall(text)):
        if code in index.by_barcode and valid_ean13(code):
            scores.add(index.by_barcode[code], "barcode", 1.0)
    for word in {w.upper() for w in _CODE.findall(text)}:
        hit = index.by_code.get(word)
        if hit is not None:
            scores.add(hit, "default_code", 0.95)
    as_written: dict[str, bool] = {}  # the ids of one folded name mostly share one spelling
    for ids in index.products.find(text).values():
        for record_id in ids:
            written = index.product_names.get(record_id, "")
            exact = as_written.get(written)
            if exact is None:
                exact = as_written[written] = bool(written) and written in text
            scores.add((record_id,), "product_name", 0.8 if exact else 0.7)
    return scores


# -- from the sink --------------------------------------------------------------------------
def check_models(settings: Settings, *names: str) -> None:
    """ConfigError unless every one of ``names`` is a configured model."""
    known = [spec.name for spec in settings.models]
    for name in names:
        if name not in known:
            raise ConfigError(f"no configured model named {name!r} (configured: "
                              f"{', '.join(known)}; see --customers/--products)")


def load_index(reader: Reader, customers: str, products: str) -> Index:
    """The index of the records ``reader``'s sink stores for the two models. SyncdError when
    one has no stored copy yet (nothing synced)."""
    heads = reader.heads()
    for name in (customers, products):
        if name not in heads:
            raise SyncdError(f"no stored copy of {name!r} yet (run 'syncd once' first)")
    return Index.build(records(reader, customers), records(reader, products))


def data_version(reader: Reader, names: Iterable[str]) -> tuple[object, ...]:
    """What changes whenever a pass changed the stored records of ``names``: their heads.
    Cheap: the sink's stamp and heads, no records."""
    heads = reader.heads()
    return tuple(heads.get(name) for name in names)


# -- output -------------------------------------------------------------------------------------
def render_json(match: Match) -> str:
    """One JSON Lines line: ``{"email", "customers": [M...], "products": [M...]}``, UTF-8."""
    return orjson.dumps(match.to_json()).decode() + "\n"


def render_text(match: Match) -> str:
    """One line: ``FILE: customers: NAME #ID (REASON SCORE), ...; products: ...``."""
    if not match.customers and not match.products:
        return f"{match.email}: no match\n"

    def side(label: str, found: tuple[Candidate, ...]) -> str:
        listed = ", ".join(f"{c.name} #{c.id} ({c.reason} {c.score:.2f})" for c in found)
        return f"{label}: {listed or 'none'}"

    return f"{match.email}: {side('customers', match.customers)}; " \
           f"{side('products', match.products)}\n"
