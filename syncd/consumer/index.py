"""The matcher's index of customers and products: built once, then every lookup is a dict probe.

``Index.build(customers, products)`` takes the records as a sink stores them (dicts with ``id``
and the configured fields, ``false`` for an empty value, many2one as ``[id, "name"]``). A field
that is not there (not configured) simply leaves its rule with nothing to find:

* customers: ``email`` (exact address, and its domain), ``parent_id`` (the company of a
  contact), ``is_company`` and ``website`` (the companies owning a domain), ``name`` (names in
  a signature);
* products: ``default_code``, ``barcode``, ``name``.

Names are compared *folded* (``fold``): case, accents and punctuation do not count, so
"Café Ünïcødé" and "cafe unicode" are the same tokens. A name takes part in text matching only
when it is at least two words, or one word of at least ``MIN_WORD_NAME`` characters: "Desk" is
too common a word to mean a product, "Zoë" too common to mean a customer. Default codes shorter
than ``MIN_CODE`` characters are not matched ("A1" is everywhere).

Surprise: a text scan finds every indexed name in O(words of the text), whatever the index's
size: each position extends a phrase only while it is still the prefix of some name. A name
inside a longer one found at the same place is not found on its own ("Office Chair" in "4 Office
Chair Black" finds only "Office Chair Black").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MIN_WORD_NAME = 6
MIN_CODE = 3

# Free-mail and big consumer providers: a sender at one of these says nothing about a company,
# so their domain never matches a contact or a company (the exact address still does).
FREE_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr",
    "live.com", "msn.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "ymail.com",
    "icloud.com", "me.com", "mac.com", "aol.com", "gmx.de", "gmx.net", "gmx.com", "web.de",
    "mail.com", "proton.me", "protonmail.com", "pm.me", "tutanota.com", "yandex.ru",
    "yandex.com", "mail.ru", "zoho.com", "qq.com", "163.com", "126.com", "orange.fr", "free.fr",
    "laposte.net", "libero.it", "t-online.de", "fastmail.com", "hey.com", "seznam.cz", "wp.pl",
    "o2.pl", "btinternet.com", "comcast.net", "verizon.net",
})

# Letters that Unicode does not decompose into a base letter and an accent.
_LETTERS = {ord("ø"): "o", ord("Ø"): "o", ord("ł"): "l", ord("Ł"): "l", ord("đ"): "d",
            ord("Đ"): "d", ord("æ"): "ae", ord("Æ"): "ae", ord("œ"): "oe", ord("Œ"): "oe",
            ord("þ"): "th", ord("ı"): "i"}
# Combining marks of the Basic Multilingual Plane (where every accent of a written language is).
_MARKS = {code: None for code in range(0x10000) if unicodedata.combining(chr(code))}
_NOT_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Lowercase words separated by one space: accents dropped ("Zoë Müller" -> "zoe muller"),
    punctuation a word break ("O'Brien-Smith" -> "o brien smith")."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_LETTERS)).translate(_MARKS)
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def domain_of(value: str) -> str:
    """The domain of an email address or a website URL, lowercased, without ``www.``; ''."""
    text = value.strip().lower()
    if "@" in text:
        text = text.rpartition("@")[2]
    else:
        text = text.partition("://")[2] or text
        text = text.split("/", 1)[0].split(":", 1)[0]
    text = text.strip(" .>")
    return text[4:] if text.startswith("www.") else text


def addresses_of(value: str) -> list[str]:
    """The addresses in an Odoo email field: one address, or several separated by ``,``/``;``,
    each possibly as ``Name <address>``."""
    if "@" not in value:
        return []
    if "<" not in value and "," not in value and ";" not in value:
        return [value.strip().lower()]  # the common case, without a regex
    found = []
    for piece in re.split(r"[,;]", value):
        piece = piece.strip()
        if "<" in piece:
            piece = piece.rpartition("<")[2].rstrip(">").strip()
        if "@" in piece:
            found.append(piece.lower())
    return found


def valid_ean13(code: str) -> bool:
    """13 digits whose last is the EAN-13 check digit of the twelve before it."""
    if len(code) != 13 or not code.isdigit():
        return False
    total = sum(map(int, code[0:12:2])) + 3 * sum(map(int, code[1:12:2]))
    return (10 - total % 10) % 10 == int(code[12])


def text_of(value: Any) -> str:
    """A char field's value as text ('' for Odoo's ``false`` and anything not a string)."""
    return value if isinstance(value, str) else ""


def many2one_id(value: Any) -> int | None:
    if isinstance(value, list | tuple) and value and isinstance(value[0], int):
        return value[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


@dataclass
class Phrases:
    """Folded names -> record ids, found in a text by ``find``."""

    ids: dict[str, list[int]] = field(default_factory=dict)
    prefixes: set[str] = field(default_factory=set)  # every proper word prefix of a name
    # name as written -> its ids' list (None: not matchable); names repeat a lot (variants of
    # one template, namesakes), and folding is most of the cost of an index build.
    _known: dict[str, list[int] | None] = field(default_factory=dict, repr=False)

    def add(self, name: str, record_id: int) -> None:
        try:
            known = self._known[name]
        except KeyError:
            known = self._known[name] = self._new(name)
        if known is not None:
            known.append(record_id)

    def _new(self, name: str) -> list[int] | None:
        folded = fold(name)
        words = folded.split(" ")
        if not folded or (len(words) == 1 and len(folded) < MIN_WORD_NAME):
            return None
        for end in range(1, len(words)):
            self.prefixes.add(" ".join(words[:end]))
        return self.ids.setdefault(folded, [])

    def find(self, text: str) -> dict[str, list[int]]:
        """Each indexed name that occurs in ``text`` as whole words (folded), with its ids.
        The longest name wins: an occurrence inside a longer one found ("office chair" in
        "office chair black") is not a match of its own; names that only overlap both are."""
        words = fold(text).split(" ")
        found: dict[str, list[int]] = {}
        ids, prefixes = self.ids, self.prefixes
        covered = 0  # the end of the furthest-reaching name found so far
        for start in range(len(words)):
            phrase = words[start]
            end = start + 1
            longest: tuple[str, list[int]] | None = None
            while True:
                hit = ids.get(phrase)
                if hit is not None and end > covered:
                    longest, covered = (phrase, hit), end
                if phrase not in prefixes or end >= len(words):
                    break
                phrase = f"{phrase} {words[end]}"
                end += 1
            if longest is not None:
                found[longest[0]] = longest[1]
        return found


@dataclass
class Index:
    """Lookups for the matching rules (see the module docstring). ``names`` maps each record
    id to its display name, per kind."""

    customer_names: dict[int, str] = field(default_factory=dict)
    product_names: dict[int, str] = field(default_factory=dict)
    by_email: dict[str, list[int]] = field(default_factory=dict)
    contacts_by_domain: dict[str, list[int]] = field(default_factory=dict)
    companies_by_domain: dict[str, list[int]] = field(default_factory=dict)
    parent: dict[int, int] = field(default_factory=dict)
    parent_names: dict[int, str] = field(default_factory=dict)
    people: Phrases = field(default_factory=Phrases)
    by_code: dict[str, list[int]] = field(default_factory=dict)
    by_barcode: dict[str, list[int]] = field(default_factory=dict)
    products: Phrases = field(default_factory=Phrases)

    @classmethod
    def build(cls, customers: Iterable[Mapping[str, Any]],
              products: Iterable[Mapping[str, Any]]) -> Index:
        index = cls()
        for record in customers:
            index._add_customer(record)
        for record in products:
            index._add_product(record)
        return index

    def _add_customer(self, record: Mapping[str, Any]) -> None:
        record_id = record.get("id")
        if not isinstance(record_id, int):
            return
        name = text_of(record.get("name"))
        self.customer_names[record_id] = name
        is_company = record.get("is_company") is True
        domains = set()
        for address in addresses_of(text_of(record.get("email"))):
            self.by_email.setdefault(address, []).append(record_id)
            domains.add(domain_of(address))
        website = text_of(record.get("website"))
        if website and is_company:
            domains.add(domain_of(website))
        for domain in domains - FREE_MAIL_DOMAINS - {""}:
            owner = self.companies_by_domain if is_company else self.contacts_by_domain
            owner.setdefault(domain, []).append(record_id)
        value = record.get("parent_id")
        parent = many2one_id(value)
        if parent is not None:
            self.parent[record_id] = parent
            if isinstance(value, list) and len(value) > 1 and isinstance(value[1], str):
                # The company may not be among the customers (a domain left it out): its name
                # is still known from the many2one.
                self.parent_names.setdefault(parent, value[1])
        if name:
            self.people.add(name, record_id)

    def _add_product(self, record: Mapping[str, Any]) -> None:
        record_id = record.get("id")
        if not isinstance(record_id, int):
            return
        name = text_of(record.get("name"))
        self.product_names[record_id] = name
        code = text_of(record.get("default_code")).strip().upper()
        if len(code) >= MIN_CODE:
            self.by_code.setdefault(code, []).append(record_id)
        barcode = text_of(record.get("barcode")).strip()
        if valid_ean13(barcode):  # a stored barcode with a wrong check digit is a typo
            self.by_barcode.setdefault(barcode, []).append(record_id)
        if name:
            self.products.add(name, record_id)

    def company_of_domain(self, domain: str) -> list[int]:
        """The companies owning ``domain``: partners with ``is_company`` whose email or website
        is there, and the parents of contacts whose email is there."""
        owners = list(self.companies_by_domain.get(domain, ()))
        for contact in self.contacts_by_domain.get(domain, ()):
            parent = self.parent.get(contact)
            if parent is not None and parent not in owners:
                owners.append(parent)
        return owners

    def customer_name(self, record_id: int) -> str:
        name = self.customer_names.get(record_id)
        return name if name is not None else self.parent_names.get(record_id, "")
