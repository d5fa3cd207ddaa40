"""syncd: keeps local JSON snapshots of Odoo models current, without ever missing a change."""

__version__ = "0.1.0"
