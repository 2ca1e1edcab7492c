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


class LayerHandler(BaseHTTPRequestHandler):
    """A layer's request handler: `answer(body)` returns the Reply; sending it (and a client that
    gave up meanwhile), the verbs and quiet logging are shared."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: "LayerServer"

    def answer(self, body: bytes) -> Reply:
        raise NotImplementedError

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        reply = self.answer(self.rfile.read(length) if length else b"")
        try:
            write_reply(self, reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a planted timeout): nobody to tell

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet by default
        if self.server.verbose:
            super().log_message(format, *args)


class LayerServer(ThreadingHTTPServer):
    """A layer's HTTP server: `layer` is what its handler dispatches to."""

    daemon_threads = True

    def __init__(self, addr: tuple[str, int], layer: Any, handler: type[BaseHTTPRequestHandler],
                 verbose: bool = False) -> None:
        self.layer, self.verbose = layer, verbose
        super().__init__(addr, handler)

    def run(self, banner: str) -> None:
        """A layer process's main loop: say where it listens, serve until interrupted, close."""
        print(banner, flush=True)
        try:
            self.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.server_close()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"
