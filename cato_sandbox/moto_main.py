"""The sandbox's moto server, with DynamoDB's Query reading one partition as DynamoDB does.

moto 5's `Table.query` (without an index) walks every item of the table and keeps those of the
asked partition, so its cost grows with the table: measured here, 2.8 ms of CPU a Query at 100
items, 15.9 ms at 2,000, 68.8 ms at 10,000, while a PutItem stays near 2 ms. A benchmark or a
long rehearsal that writes sessions then measured moto, not the orchestrator: every new
session's first history read queued behind it. DynamoDB reads a Query from its partition alone.

So, while a Query without an index runs, `all_items` returns only the asked partition's items.
Everything else moto does with them (range conditions, filters, order, limits, pages) is its
own code, unchanged; a Query on an index, and every other operation, is untouched.

    python -m cato_sandbox.moto_main -H 127.0.0.1 -p 5000     # moto_server's arguments
"""
from __future__ import annotations

import inspect
import sys
import threading
from typing import Any

_partition = threading.local()   # moto's server answers on several threads


def install() -> None:
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_cato_partition_query", False):
        return
    every_item, query = Table.all_items, Table.query
    signature = inspect.signature(query)   # moto passes index_name by position or by name

    def all_items(self: Any) -> list:
        only = getattr(_partition, "items", None)
        return every_item(self) if only is None else only

    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        if signature.bind(self, hash_key, *args, **kwargs).arguments.get("index_name") or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        cell = self.items.get(hash_key)   # .get: `items` is a defaultdict; a miss must not add a key
        items = [] if cell is None else list(cell.values()) if self.range_key_attr else [cell]
        _partition.items = items
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _partition.items = None

    Table.all_items, Table.query = all_items, partition_query
    Table._cato_partition_query = (every_item, query)


def uninstall() -> None:
    """moto as shipped again (tests that patch moto in their own process)."""
    from moto.dynamodb.models.table import Table

    original = getattr(Table, "_cato_partition_query", None)
    if original:
        Table.all_items, Table.query = original
        del Table._cato_partition_query


def keep_alive() -> None:
    """Persistent HTTP/1.1 connections, as DynamoDB's endpoint keeps them. werkzeug's server always
    answers `Connection: close` (http.server cannot skip an unread body before the next request line),
    so every DynamoDB call of the orchestrator paid a new TCP connection and moto a new thread: at 2,000
    concurrent sessions ~15% of the replica's event loop, and moto's listen backlog overflowing. Here
    the body is read whole before moto sees it (so nothing unread is left on the connection) and the
    close is dropped; a chunked body or `Expect: 100-continue` still closes the connection, as before."""
    import io

    from moto import server

    class KeepAliveHandler(server.MotoRequestHandler):
        protocol_version = "HTTP/1.1"
        _keep = False

        def run_wsgi(self) -> None:
            if ("chunked" in self.headers.get("Transfer-Encoding", "").lower()
                    or self.headers.get("Expect", "").lower().strip() == "100-continue"):
                self._keep = False   # werkzeug's own path (it answers 100 Continue before the body comes)
                return super().run_wsgi()
            length = int(self.headers.get("Content-Length") or 0)
            wire, self._keep = self.rfile, True
            self.rfile = io.BufferedReader(io.BytesIO(wire.read(length) if length > 0 else b""))  # type: ignore[assignment]
            try:
                return super().run_wsgi()
            finally:
                self.rfile = wire

        def send_header(self, keyword: str, value: str) -> None:
            if self._keep and keyword.lower() == "connection" and value.lower() == "close":
                return
            super().send_header(keyword, value)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # one access-log line a call, written under the logging lock by every connection's thread,
            # was ~40% of moto's busy CPU at 245 session turns/s; a server error is still logged
            if str(getattr(code, "value", code)).startswith("5"):
                super().log_request(code, size)

    server.MotoRequestHandler = KeepAliveHandler  # type: ignore[misc]


def memoise_dispatch() -> None:
    """moto's server lists its own package folders (os.listdir, one isdir each) and inspects the
    handler class's methods on every request; both are fixed once moto is imported. Measured at
    245 session turns/s: ~10% of moto's busy CPU. Answers are unchanged."""
    import functools

    from moto import backends
    from moto.core import responses

    if getattr(backends, "_cato_memoised", False):
        return
    modules = frozenset(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(responses.method_names_from_class)
    backends._cato_memoised = True  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> None:
    install()
    keep_alive()
    memoise_dispatch()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
