"""Independent clients for the emulator's three protocols (stdlib only, not syncd's transports).

`client(em, protocol)` returns an object with `login(secret)` and `call(model, method, ids=None,
**named)`; every failure is raised as `Failure` carrying what the protocol exposes: the XML-RPC
fault code and string, the JSON-RPC error code and data, the JSON-2 status and body.
"""

from __future__ import annotations

import http.client
import json
import xmlrpc.client
from dataclasses import dataclass, field
from typing import Any

from syncd.emulator import Emulator


@dataclass
class Failure(Exception):
    protocol: str
    status: int = 200                     # HTTP status
    code: Any = None                      # XML-RPC faultCode or JSON-RPC error.code
    text: str = ""                        # XML-RPC faultString
    name: str = ""                        # JSON error name
    message: str = ""                     # JSON error message
    body: dict[str, Any] = field(default_factory=dict)


class XmlRpcClient:
    protocol = "xmlrpc"

    def __init__(self, em: Emulator) -> None:
        self.em = em
        self.db = em.db.name
        self.uid: Any = False
        self.secret = em.password
        self.common = xmlrpc.client.ServerProxy(em.url + "/xmlrpc/2/common")
        self.object = xmlrpc.client.ServerProxy(em.url + "/xmlrpc/2/object")

    def login(self, secret: str, login: str = "admin") -> Any:
        self.secret = secret
        self.uid = self.common.authenticate(self.db, login, secret, {})
        return self.uid

    def call(self, model: str, method: str, ids: list[int] | None = None, **named: Any) -> Any:
        args = [ids] if ids is not None else []
        try:
            return self.object.execute_kw(self.db, self.uid, self.secret, model, method, args,
                                          named)
        except xmlrpc.client.Fault as fault:
            raise Failure("xmlrpc", code=fault.faultCode, text=fault.faultString) from None


class JsonRpcClient:
    protocol = "jsonrpc"

    def __init__(self, em: Emulator) -> None:
        self.em = em
        self.db = em.db.name
        self.uid: Any = False
        self.secret = em.password
        self.conn = http.client.HTTPConnection("127.0.0.1", em.port, timeout=30)

    def rpc(self, service: str, method: str, *args: Any) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 42,
                           "params": {"service": service, "method": method, "args": list(args)}})
        self.conn.request("POST", "/jsonrpc", body=body,
                          headers={"Content-Type": "application/json"})
        response = self.conn.getresponse()
        reply = json.loads(response.read())
        assert response.status == 200 and reply["jsonrpc"] == "2.0" and reply["id"] == 42
        if "error" in reply:
            error = reply["error"]
            assert error["message"] == "Odoo Server Error"
            assert set(error["data"]) == {"name", "message", "arguments", "context", "debug"}
            raise Failure("jsonrpc", code=error["code"], name=error["data"]["name"],
                          message=error["data"]["message"], body=error)
        return reply["result"]

    def login(self, secret: str, login: str = "admin") -> Any:
        self.secret = secret
        self.uid = self.rpc("common", "login", self.db, login, secret)
        return self.uid

    def call(self, model: str, method: str, ids: list[int] | None = None, **named: Any) -> Any:
        args = [ids] if ids is not None else []
        return self.rpc("object", "execute_kw", self.db, self.uid, self.secret, model, method,
                        args, named)


class Json2Client:
    protocol = "json2"

    def __init__(self, em: Emulator) -> None:
        self.em = em
        self.key = em.api_key
        self.conn = http.client.HTTPConnection("127.0.0.1", em.port, timeout=30)

    def login(self, secret: str, login: str = "admin") -> Any:
        """JSON-2 has no login: the key is checked on each call; context_get proves it."""
        self.key = secret
        try:
            return self.call("res.users", "context_get")["uid"]
        except Failure as failure:
            if failure.status == 401:
                return False
            raise

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        self.conn.request("POST", path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        assert response.getheader("Content-Type", "").startswith("application/json")
        return response.status, json.loads(data)

    def call(self, model: str, method: str, ids: list[int] | None = None, **named: Any) -> Any:
        if ids is not None:
            named["ids"] = ids
        status, reply = self.post(f"/json/2/{model}/{method}", json.dumps(named).encode(),
                                  {"Content-Type": "application/json",
                                   "Authorization": f"bearer {self.key}"})
        if status != 200:
            assert {"name", "message", "arguments", "context", "debug"} <= set(reply)
            raise Failure("json2", status=status, name=reply["name"], message=reply["message"],
                          body=reply)
        return reply


Client = XmlRpcClient | JsonRpcClient | Json2Client


def client(em: Emulator, protocol: str) -> Client:
    """A logged-in client of `protocol` for the default admin."""
    made: Client = {"xmlrpc": XmlRpcClient, "jsonrpc": JsonRpcClient,
                    "json2": Json2Client}[protocol](em)
    assert made.login(em.api_key if protocol == "json2" else em.password) == 2
    return made
