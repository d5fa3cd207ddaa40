"""Odoo 18 stamps every contact of a company on any write to the company (docs/odoo-api.md §9):
with `write_date` among the fields those contacts are changes; without it they are re-read but
nothing is written."""

from __future__ import annotations

from pathlib import Path

from syncd.settings import ModelSpec
from tests.sync_rig import make_rig

WITH_STAMP = ModelSpec(name="stamped", model="res.partner",
                       fields=("name", "email", "write_date"))
CONTENT = ModelSpec(name="content", model="res.partner", fields=("name", "email"))


def test_a_company_write_on_18_changes_its_contacts_only_by_their_stamp(tmp_path: Path) -> None:
    for version, contacts_changed in ((17, 0), (18, 10)):
        rig = make_rig(tmp_path / str(version), version=version,
                       models=(WITH_STAMP, CONTENT))
        try:
            company = rig.db.create("res.partner", {"name": "Acme", "is_company": True})
            rig.db.import_records("res.partner", [{"name": f"C{n}", "parent_id": company}
                                                  for n in range(10)])
            assert rig.sync().ok
            rig.db.clock.advance(3600)  # older than the window each pass re-reads
            assert rig.sync().ok
            rig.db.write("res.partner", [company], {"email": "info@acme.example.com"})
            report = rig.sync()
            assert report.ok
            stamped, content = report.models
            assert stamped.changed == 1 + contacts_changed
            assert content.changed == 1 and content.written
            rig.assert_in_sync(f"on {version}")
        finally:
            rig.close()
