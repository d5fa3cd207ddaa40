"""The Odoo side: one client over three transports (JSON-2, JSON-RPC, XML-RPC), HTTP, faults
mapped to the error tree, and retries with backoff. Public face: ``OdooClient`` and ``ServerInfo``."""

from syncd.odoo.client import OdooClient, ServerInfo

__all__ = ["OdooClient", "ServerInfo"]
