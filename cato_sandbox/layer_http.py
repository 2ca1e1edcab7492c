"""What the sandbox's AWS stand-in layers (AppConfig, DynamoDB) share: writing a `Reply` the way
AWS does (a request id on every answer, no hop-by-hop headers) and the threading server."""
from __future__ import annotations

import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cato_sandbox.appconfig_moto import HOP_BY_HOP, Reply


def write_reply(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    handler.send_response(reply.status)
    headers = {k: v for k, v in reply.headers.items() if k.lower() not in HOP_BY_HOP}
    if not any(k.lower() == "x-amzn-requestid" for k in headers):
        headers["x-amzn-RequestId"] = str(uuid.uuid4())
    for k, v in headers.items():
        handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(reply.body)))
    handler.end_headers()
    if handler.command != "HEAD" and reply.body:
        handler.wfile.write(reply.body)


class LayerServer(ThreadingHTTPServer):
    """A layer's HTTP server: `layer` is what its handler dispatches to."""

    daemon_threads = True

    def __init__(self, addr: tuple[str, int], layer: Any, handler: type[BaseHTTPRequestHandler],
                 verbose: bool = False) -> None:
        self.layer, self.verbose = layer, verbose
        super().__init__(addr, handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"
