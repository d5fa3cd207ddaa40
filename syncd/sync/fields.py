"""Which fields a pull fetches, from what the server says it has (``fields_get``)."""

from __future__ import annotations

from loguru import logger

from syncd.odoo import OdooClient
from syncd.settings import ModelSpec
from syncd.sync.coverage import missing_text
from syncd.sync.related import DESCRIBE, describer, parents_of
from syncd.sync.state import ModelState
from syncd.sync.window import domain_fields


def resolve_fields(client: OdooClient, spec: ModelSpec, state: ModelState,
                   known_missing: list[str]) -> None:
    """Set ``state.fields`` (what to fetch), ``missing_fields`` and ``parents`` from the server.

    A configured field the server lacks is left out and reported once (not again while it
    stays missing). Besides the configured fields, the pull fetches what membership depends on
    (``write_date``, ``active``, the domain's fields), so a row's mark changes whenever its
    membership can (two writes in one second show the same ``write_date``)."""
    available = client.fields_get(spec.model, DESCRIBE)
    wanted = list(spec.fields)
    if spec.include_archived and "active" in available and "active" not in wanted:
        wanted.append("active")
    missing = [f for f in wanted if f not in available]
    if missing and missing != known_missing:  # once, not every pass
        logger.warning("model={model} missing_fields={missing_fields} {reason}; left out",
                       model=spec.name, missing_fields=",".join(missing),
                       reason=missing_text(spec.model, missing, available))
    fetch = [f for f in wanted if f in available]
    for extra in ("write_date", "active", *domain_fields(spec.domain)):
        if extra in available and extra not in fetch:
            fetch.append(extra)
    state.fields = fetch
    state.types = {name: str(available[name].get("type", "")) for name in fetch}
    state.missing_fields = missing
    describe = describer(lambda model: available if model == spec.model
                         else client.fields_get(model, DESCRIBE))
    state.parents = parents_of(available, fetch, describe)
