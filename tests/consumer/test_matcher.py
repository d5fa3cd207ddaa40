"""The matcher on real .eml files: emails built with EmailMessage, written, read back, matched.

The index holds records as a sink stores them (``false`` for empty values, many2one as
``[id, "name"]``). Each test asserts ids, reasons and scores a wrong rule would get wrong."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from syncd.consumer.index import Index, domain_of, fold, valid_ean13
from syncd.consumer.matcher import LIMIT, REASONS, THRESHOLD, Match, match_email, render_text

CUSTOMERS: list[dict[str, Any]] = [
    {"id": 1, "name": "Müller Möbel GmbH", "email": "info@mueller-moebel.de", "is_company": True,
     "parent_id": False, "website": "https://www.mueller-moebel.de"},
    {"id": 2, "name": "Zoë Müller", "email": "zoe.muller@mueller-moebel.de", "is_company": False,
     "parent_id": [1, "Müller Möbel GmbH"]},
    {"id": 3, "name": "Hans Weber", "email": "Hans Weber <hans.weber@mueller-moebel.de>",
     "is_company": False, "parent_id": [1, "Müller Möbel GmbH"]},
    {"id": 4, "name": "Harbor Logistics Ltd", "email": "info@harbor-logistics.ie",
     "is_company": True, "parent_id": False},
    {"id": 5, "name": "Sean Byrne", "email": "sean.byrne@gmail.com", "is_company": False,
     "parent_id": [4, "Harbor Logistics Ltd"]},
    {"id": 6, "name": "Ana Lima", "email": "ana.lima@gmail.com", "is_company": False,
     "parent_id": False},
    # A company known by its website only (no email).
    {"id": 7, "name": "Keystone Office Supplies NV", "email": False, "is_company": True,
     "parent_id": False, "website": "keystone.example/contact"},
    # A contact whose company is not among the customers: its name comes from the many2one.
    {"id": 8, "name": "Ines Costa", "email": "ines@faraway.example", "is_company": False,
     "parent_id": [99, "Faraway Holdings"]},
]
PRODUCTS: list[dict[str, Any]] = [
    {"id": 10, "name": "Oak Desk", "default_code": "FURN-0001", "barcode": "4006381333931"},
    {"id": 11, "name": "Café Ünïcødé Mug", "default_code": "MUG-0042", "barcode": False},
    # Stored with a wrong check digit (a typo in Odoo): never matched as a barcode.
    {"id": 12, "name": "Steel Chair", "default_code": "FURN-0002", "barcode": "4006381333932"},
    {"id": 13, "name": "Desk", "default_code": "D1", "barcode": False},  # too short to match
]


@pytest.fixture(scope="module")
def index() -> Index:
    return Index.build(CUSTOMERS, PRODUCTS)


def eml(tmp_path: Path, sender: str, subject: str, text: str | None = None, *,
        html: str | None = None, charset: str = "utf-8", cte: str | None = None) -> Path:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "sales@example.com"
    message["Subject"] = subject
    if text is not None:
        message.set_content(text, charset=charset, cte=cte)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    path = tmp_path / f"mail{len(list(tmp_path.iterdir()))}.eml"
    path.write_bytes(bytes(message))
    return path


def match(path: Path, index: Index) -> Match:
    result = match_email(path.read_bytes(), index, label=path.name)
    for found in (result.customers, result.products):
        assert len(found) <= LIMIT
        assert all(c.reason in REASONS and THRESHOLD <= c.score <= 1.0 for c in found)
        assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    return result


def found(candidates: tuple[Any, ...]) -> list[tuple[int, str, float]]:
    return [(c.id, c.reason, c.score) for c in candidates]


def test_exact_sender_and_the_company_of_that_contact(tmp_path: Path, index: Index) -> None:
    path = eml(tmp_path, "Zoe <zoe.muller@mueller-moebel.de>", "Hello", "Can we talk?\n")
    result = match(path, index)
    # Her colleague at the same domain is not offered: the exact address wins outright.
    assert found(result.customers) == [(2, "email", 1.0), (1, "company", 0.9)]
    assert result.customers[1].name == "Müller Möbel GmbH"


def test_an_address_inside_a_formatted_email_field_matches_exactly(tmp_path: Path,
                                                                   index: Index) -> None:
    path = eml(tmp_path, "HANS.WEBER@Mueller-Moebel.de", "Hi", "ok\n")
    assert found(match(path, index).customers)[0] == (3, "email", 1.0)


def test_unknown_sender_at_a_known_domain(tmp_path: Path, index: Index) -> None:
    path = eml(tmp_path, "new.person@mueller-moebel.de", "Quote", "Please send a quote.\n")
    # The company owning the domain first, then its contacts there.
    assert found(match(path, index).customers) == [(1, "company", 0.8), (2, "domain", 0.6),
                                                   (3, "domain", 0.6)]


def test_company_by_website_and_a_parent_outside_the_customers(tmp_path: Path,
                                                               index: Index) -> None:
    by_website = match(eml(tmp_path, "buyer@keystone.example", "Order", "x\n"), index)
    assert found(by_website.customers) == [(7, "company", 0.8)]
    outside = match(eml(tmp_path, "ines@faraway.example", "Hi", "x\n"), index)
    assert [(c.id, c.name, c.reason) for c in outside.customers] == [
        (8, "Ines Costa", "email"), (99, "Faraway Holdings", "company")]


def test_free_mail_sender_gets_no_domain_match(tmp_path: Path, index: Index) -> None:
    stranger = match(eml(tmp_path, "someone.else@gmail.com", "Question", "Hello\n"), index)
    assert stranger.customers == ()  # not Sean Byrne nor Ana Lima, who are also on gmail.com
    known = match(eml(tmp_path, "sean.byrne@gmail.com", "Question", "Hello\n"), index)
    assert found(known.customers) == [(5, "email", 1.0), (4, "company", 0.9)]


def test_names_in_the_signature_and_two_signals_beat_one(tmp_path: Path, index: Index) -> None:
    signed = eml(tmp_path, "hw1970@gmail.com", "Desk", "See below.\n\n-- \nHans Weber\n"
                 "Müller Möbel GmbH, Berlin\n")
    assert found(match(signed, index).customers) == [(1, "name", 0.6), (3, "name", 0.6)]
    both = eml(tmp_path, "h.w@mueller-moebel.de", "Desk", "Thanks,\nHans Weber\n")
    # domain (0.6) and name (0.6) together: 1 - 0.4 * 0.4 = 0.84, above the company's 0.8.
    assert found(match(both, index).customers)[:3] == [(3, "domain", 0.84), (1, "company", 0.8),
                                                       (2, "domain", 0.6)]


def test_sku_in_the_subject(tmp_path: Path, index: Index) -> None:
    path = eml(tmp_path, "x@unknown.example", "Re: order furn-0001 x3", "Thanks.\n")
    assert found(match(path, index).products) == [(10, "default_code", 0.95)]
    longer = eml(tmp_path, "x@unknown.example", "FURN-00012 and FURN-0001-BLK and D1", "ok\n")
    assert match(longer, index).products == ()  # whole words only; D1 is too short a code


def test_barcode_in_an_html_body_and_a_wrong_check_digit_is_not_matched(tmp_path: Path,
                                                                        index: Index) -> None:
    html = "<html><body><p>Item:<br><b>4006381333931</b></p></body></html>"
    result = match(eml(tmp_path, "x@unknown.example", "Stock", html=html), index)
    assert found(result.products) == [(10, "barcode", 1.0)]
    assert valid_ean13("4006381333931") and not valid_ean13("4006381333932")
    wrong = "<p>4006381333932 and 4006381333930</p>"  # product 12's stored typo; one digit off
    assert match(eml(tmp_path, "x@unknown.example", "Stock", html=wrong), index).products == ()


def test_quoted_printable_and_non_ascii_names(tmp_path: Path, index: Index) -> None:
    path = eml(tmp_path, "Zoë Müller <zoe.private@gmail.com>", "Bestellung: Tassen für Zoë",
               "Hallo,\nich hätte gerne 20x Café Ünïcødé Mug.\n", cte="quoted-printable")
    raw = path.read_bytes()
    assert b"=C3=A9" in raw and "Zoë".encode() not in raw  # really encoded, headers too
    result = match(path, index)
    assert found(result.customers) == [(2, "name", 0.6)]  # the display name; gmail: no domain
    assert result.customers[0].name == "Zoë Müller"
    assert found(result.products) == [(11, "product_name", 0.8)]


def test_base64_latin1_and_a_folded_product_name(tmp_path: Path, index: Index) -> None:
    path = eml(tmp_path, "x@unknown.example", "mugs", "Bitte 3 CAFE-UNICODE mug, danke. Oak "
               "desk too.\n", charset="iso-8859-1", cte="base64")
    assert b"Content-Transfer-Encoding: base64" in path.read_bytes()
    assert found(match(path, index).products) == [(10, "product_name", 0.7),
                                                  (11, "product_name", 0.7)]
    latin = eml(tmp_path, "x@unknown.example", "mugs", "Café Ünïcødé Mug: ø ok\n",
                charset="iso-8859-1", cte="base64")
    assert found(match(latin, index).products) == [(11, "product_name", 0.8)]


def test_quoted_reply_lines_are_not_matched(tmp_path: Path, index: Index) -> None:
    path = eml(tmp_path, "x@unknown.example", "Re: hi", "Fine.\n\n> I want FURN-0001\n")
    assert match(path, index).products == ()


def test_no_match(tmp_path: Path, index: Index) -> None:
    path = eml(tmp_path, "x@unknown.example", "Lunch", "Lunch on Friday at the desk?\n")
    result = match(path, index)
    assert result.customers == () and result.products == ()
    assert render_text(result) == f"{path.name}: no match\n"


def test_at_most_five_candidates_best_first() -> None:
    many = [{"id": n, "name": f"Person {n}", "email": f"p{n}@big.example", "is_company": False,
             "parent_id": False} for n in range(1, 9)]
    index = Index.build(many, [])
    message = EmailMessage()
    message["From"] = "p7x@big.example"
    message.set_content("-- \nPerson 8\n")
    result = match_email(bytes(message), index)
    assert found(result.customers) == [(8, "domain", 0.84), (1, "domain", 0.6), (2, "domain", 0.6),
                                       (3, "domain", 0.6), (4, "domain", 0.6)]


def test_a_broken_message_matches_less_and_never_raises(index: Index) -> None:
    raw = (b"From: =?x-unknown?q?Zo=EB?= <x@unknown.example>\nSubject: FURN-0001\n"
           b"Content-Type: text/plain; charset=x-no-such-charset\n"
           b"Content-Transfer-Encoding: base64\n\n!!not base64!!\n")
    result = match_email(raw, index)
    assert found(result.products) == [(10, "default_code", 0.95)]


def test_missing_fields_disable_their_rule(tmp_path: Path) -> None:
    # Only id and name configured: no code, barcode, email or parent rule; names still work.
    index = Index.build([{"id": 1, "name": "Hans Weber"}], [{"id": 10, "name": "Oak Desk"}])
    path = eml(tmp_path, "hans.weber@mueller-moebel.de", "FURN-0001 4006381333931",
               "An Oak Desk.\n-- \nHans Weber\n")
    result = match(path, index)
    assert found(result.customers) == [(1, "name", 0.6)]
    assert found(result.products) == [(10, "product_name", 0.8)]


def test_folding_and_domains() -> None:
    assert fold("Café Ünïcødé") == "cafe unicode"
    assert fold("O'Brien-Smith  Łódź, Straße") == "o brien smith lodz strasse"
    assert domain_of("https://www.Acme.com:8080/about") == "acme.com"
    assert domain_of("Info <info@Acme.com>") == "acme.com"


def test_the_longest_product_name_wins_and_a_contained_name_is_no_match(tmp_path: Path) -> None:
    index = Index.build([], [{"id": 20, "name": "Office Chair", "default_code": False},
                             {"id": 21, "name": "Office Chair Black", "default_code": False},
                             {"id": 22, "name": "Chair Black Edition", "default_code": False}])
    path = eml(tmp_path, "x@unknown.example", "Order", "Please send 4 Office Chair Black.\n")
    assert found(match(path, index).products) == [(21, "product_name", 0.8)]
    both = eml(tmp_path, "x@unknown.example", "Order",
               "4 Office Chair Black, and one Office Chair.\n")  # each name on its own
    assert found(match(both, index).products) == [(20, "product_name", 0.8),
                                                  (21, "product_name", 0.8)]
    overlap = eml(tmp_path, "x@unknown.example", "Order", "an office chair black edition\n")
    # overlapping, neither inside the other: both are found (folded)
    assert found(match(overlap, index).products) == [(21, "product_name", 0.7),
                                                     (22, "product_name", 0.7)]
