"""The sandbox AppConfig layer's side towards moto: replies, forwarding and look-ups.

:class:`Reply` is the HTTP answer value every part of the layer passes around;
:class:`MotoForwarder` sends a client's request to moto verbatim or looks something up there
with the client's credentials, and :func:`check_moto` turns a failed look-up into the AWS error.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from cato_sandbox.appconfig_model import AppConfigError, BadRequest, NotFound

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "host", "content-length", "expect"}


class Internal(AppConfigError):
    status = 500
    code = "InternalServerException"


class Reply:
    def __init__(self, status: int, body: bytes | dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.status, self.headers = status, dict(headers or {})
        if isinstance(body, dict):
            self.headers.setdefault("Content-Type", "application/json")
            body = json.dumps(body).encode()
        self.body = body or b""


class MotoForwarder:
    """HTTP client towards the moto server at ``moto_url``."""

    def __init__(self, moto_url: str) -> None:
        u = urlsplit(moto_url)
        self.moto_host, self.moto_port = u.hostname or "127.0.0.1", u.port or 80

    def moto(self, method: str, path: str, headers: Any, body: bytes = b"",
             verbatim: bool = True) -> Reply:
        """Send a request to moto: the client's own (``verbatim``) or a look-up of ours that
        reuses the client's credentials and ``x-moto-account-id``."""
        skip = HOP_BY_HOP if verbatim else HOP_BY_HOP | {"content-type", "content-md5"}
        fwd = {k: v for k, v in headers.items() if k.lower() not in skip}
        fwd["Host"] = f"{self.moto_host}:{self.moto_port}"
        fwd["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(self.moto_host, self.moto_port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=fwd)
            resp = conn.getresponse()
            data = resp.read()
            out = {k: v for k, v in resp.getheaders()
                   if k.lower() not in HOP_BY_HOP | {"date", "server"}}
            return Reply(resp.status, data, out)
        finally:
            conn.close()

    def moto_json(self, path: str, headers: Any, what: str) -> dict[str, Any]:
        r = self.moto("GET", path, headers, verbatim=False)
        check_moto(r, what, path.rsplit("/", 1)[-1])
        return json.loads(r.body or b"{}")


def check_moto(r: Reply, what: str, name: str) -> None:
    """Raise the AWS error for a failed look-up in moto (moto answers not-found with a 400)."""
    if r.status < 400:
        return
    try:
        code = str(json.loads(r.body).get("__type", ""))
    except (ValueError, AttributeError):
        code = ""
    if r.status == 404 or code.endswith("ResourceNotFoundException"):
        raise NotFound(f"{what} not found", ResourceName=name)
    if r.status < 500:
        raise BadRequest(f"{what}: moto answered {r.status}: {r.body[:200]!r}")
    raise Internal(f"{what}: moto answered {r.status}: {r.body[:200]!r}")


def error_reply(e: AppConfigError) -> Reply:
    return Reply(e.status, e.body(), {"x-amzn-ErrorType": e.code})
