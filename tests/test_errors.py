"""`scrub`: secrets leave messages whole, and words that merely contain one stay readable."""

from __future__ import annotations

from syncd.errors import scrub


def test_a_secret_is_scrubbed_only_as_a_whole_occurrence() -> None:
    text = "Access Denied for admin (password admin): contact your administrator; admin."
    assert scrub(text, ["admin"]) == ("Access Denied for *** (password ***): contact your "
                                      "administrator; ***.")


def test_a_secret_never_appears_where_it_stands_alone() -> None:
    secret = "s3cr3t-P@ss"
    for text in (f"url https://u:{secret}@odoo.example.com", f"'{secret}'", secret,
                 f"password={secret}\n", f"{secret} {secret}"):
        assert secret not in scrub(text, [secret, ""])
    assert scrub("key abc and abcdef", ["abc", "abcdef"]) == "key *** and ***"
