"""The language a pass reads in is part of what a snapshot is "of": a change rebuilds it.

Translatable values (a product's name, a many2one's display name) come back in the context's
lang, so a snapshot read in French and then updated in place in English would hold both.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from syncd.settings import ModelSpec
from syncd.emulator import Emulator
from syncd.odoo.client import OdooClient
from syncd.odoo.handshake import MAX_AGE
from syncd.service.status import render_status, status_of
from syncd.sync.changes import RebuildReason
from tests.sync_rig import Rig, make_rig

PRODUCTS = ModelSpec(name="products", model="product.product", fields=("name", "default_code"))


def _rig(tmp_path: Path, version: int, lang: str) -> Rig:
    em = Emulator(version, admin_partner=True)
    chair = em.db.create("product.product", {"name": "Chair", "default_code": "C1"})
    desk = em.db.create("product.product", {"name": "Desk", "default_code": "D1"})
    for variant, french in ((chair, "Chaise"), (desk, "Bureau")):
        em.db.execute("product.product", "update_field_translations",
                      [[variant], "name", {"fr_FR": french}], {})
    rig = make_rig(tmp_path, version=version, models=(PRODUCTS,), emulator=em)
    _set_lang(rig, lang)
    return rig


def _set_lang(rig: Rig, lang: str) -> None:
    """A new `once`: another configured lang, a new client (a new login)."""
    rig.client.close()
    rig.settings = replace(rig.settings, odoo=replace(rig.settings.odoo, lang=lang))
    rig.client = OdooClient(rig.settings.odoo, sleep=lambda s: None)


def _names(rig: Rig) -> list[str]:
    return [r["name"] for r in rig.snapshot("products")]


def test_a_configured_language_change_rebuilds_in_the_new_language(tmp_path: Path) -> None:
    for version in (17, 18):
        rig = _rig(tmp_path / str(version), version, "fr_FR")
        try:
            assert rig.sync().ok
            assert _names(rig) == ["Chaise", "Bureau"]
            _set_lang(rig, "en_US")
            report = rig.sync()
            assert report.ok and report.models[0].full
            assert _names(rig) == ["Chair", "Desk"]
            status = status_of(rig.settings)
            assert status["models"][0]["lang"] == "en_US"
            assert "language:  en_US" in render_status(status)
        finally:
            rig.close()


def test_the_sync_users_own_language_change_rebuilds(tmp_path: Path) -> None:
    rig = _rig(tmp_path, 17, "")
    try:
        assert rig.sync().ok
        assert _names(rig) == ["Chair", "Desk"]
        rig.db.write("res.users", [rig.client.connect().uid], {"lang": "fr_FR"})
        assert not rig.sync().models[0].full  # the connected client still reads in en_US
        _set_lang(rig, "")  # a new `once` within the day resumes the kept handshake: en_US
        assert not rig.sync().models[0].full
        # A day later it probes again (context_get) and learns fr_FR.
        rig.client.close()
        later = time.time() + MAX_AGE + 60
        rig.client = OdooClient(rig.settings.odoo, sleep=lambda s: None, wall=lambda: later)
        report = rig.sync()
        assert report.ok and report.models[0].full
        assert _names(rig) == ["Chaise", "Bureau"]
    finally:
        rig.close()


def test_a_state_from_before_the_language_was_kept_is_not_rebuilt(tmp_path: Path) -> None:
    from syncd.sinks.factory import make_sink
    from syncd.sync.engine import source_of
    from syncd.sync.window import fingerprint

    rig = _rig(tmp_path, 17, "fr_FR")
    try:
        assert rig.sync().ok
        sink = make_sink(rig.settings)
        try:
            state = sink.load_state()
            old = state.models["products"]
            old.lang, old.fingerprint = None, fingerprint(PRODUCTS, source_of(rig.settings), None)
            with sink.lock():
                writer = sink.begin(at="2024-01-01 00:00:00")
                writer.commit(state)
        finally:
            sink.close()
        report = rig.sync()
        assert report.ok and not report.models[0].full
    finally:
        rig.close()


def test_the_rebuild_says_why() -> None:
    assert RebuildReason.LANG_CHANGED.value == "language changed"
