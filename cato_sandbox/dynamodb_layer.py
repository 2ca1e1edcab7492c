"""Sandbox HTTP layer in front of moto that gives DynamoDB global tables to unchanged boto3 code.

moto 5.2.5 silently ignores `UpdateTable(ReplicaUpdates=...)` and answers `CreateGlobalTable`
with a 500, so nothing replicates between regions. This stdlib server speaks DynamoDB's JSON 1.0
wire protocol for the parts that make a global table (`dynamodb_layer_ops`), replicates item
writes to the other regions asynchronously with a small lag (`dynamodb_layer_replication`), and
forwards every other request to moto verbatim::

    python -m cato_sandbox.dynamodb_layer --host 127.0.0.1 --port 4568 \\
        --moto-url http://127.0.0.1:5000 [--lag-ms 50]

then `boto3.client("dynamodb", endpoint_url=LAYER, region_name=R)` in any region R.

Admin (not AWS): `GET /healthz`; `GET /admin/replication` (paused, lag_ms, pending,
oldest_pending_ms, applied, failed, last_lag_ms, global tables); `POST /admin/replication`
with `{"paused": true|false, "lag_ms": N}` (pausing is the planted fault "replication
stopped"). `POST /moto-api/reset` is forwarded and also forgets every replica.
`/_cato/faults` plants throttling (ProvisionedThroughputExceededException), 500s and timeouts on
chosen operations (`cato_sandbox.layer_faults`).

Differences from AWS worth knowing: replicas are ACTIVE as soon as UpdateTable returns (the
existing items are copied synchronously); replication is per item, last writer wins, with a
fixed lag; `CreateGlobalTable` (version 2017.11.29) is left to moto, i.e. unsupported.
"""
from __future__ import annotations

import argparse
import json

from cato_sandbox.appconfig_moto import Reply
from cato_sandbox.dynamodb_layer_ops import DynamoLayer, json_reply
from cato_sandbox.layer_http import LayerHandler
from cato_sandbox.layer_http import LayerServer as _LayerServer


def admin(layer: DynamoLayer, method: str, path: str, body: bytes) -> Reply | None:
    """The layer's own endpoints; None for anything else."""
    if path == "/healthz":
        return json_reply(200, {"ok": True})
    if path.split("?", 1)[0] == "/admin/replication":
        if method == "POST":
            try:
                cfg = json.loads(body or b"{}")
                paused, lag = cfg.get("paused"), cfg.get("lag_ms")
                if (paused is not None and not isinstance(paused, bool)) or \
                        (lag is not None and (not isinstance(lag, (int, float)) or lag < 0)):
                    raise ValueError
            except (ValueError, AttributeError):
                return json_reply(400, {"message": 'body must be {"paused": bool, "lag_ms": number >= 0}'})
            layer.replicator.configure(paused=paused, lag_ms=lag)
        with layer._lock:
            groups = [{"account": a, "table": t, "regions": sorted(r)} for (a, t), r in layer._groups.items()]
        return json_reply(200, {**layer.replicator.stats(), "global_tables": groups})
    if path == "/moto-api/reset" and method == "POST":
        r = layer.fwd.moto(method, path, {}, body)
        layer.reset()
        return r
    return None


class Handler(LayerHandler):
    def answer(self, body: bytes) -> Reply:
        layer = self.server.layer
        try:
            reply = admin(layer, self.command, self.path, body) or \
                layer.faults.admin(self.command, self.path, body)
            if reply is None:  # X-Amz-Target is "DynamoDB_20120810.<Operation>"
                target = self.headers.get("X-Amz-Target")
                reply = layer.faults.intercept(target.rsplit(".", 1)[-1] if target else None)
            if reply is None and self.command == "POST" and self.path == "/":
                reply = layer.handle(self.headers, body)
            if reply is None:
                reply = layer.fwd.moto(self.command, self.path, self.headers, body)
        except Exception as e:  # noqa: BLE001 - an AWS-style 500 the SDK can read
            reply = json_reply(500, {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                                     "message": f"sandbox DynamoDB layer: {type(e).__name__}: {e}"})
        return reply


class LayerServer(_LayerServer):
    def __init__(self, addr: tuple[str, int], layer: DynamoLayer, verbose: bool = False) -> None:
        super().__init__(addr, layer, Handler, verbose)

    def server_close(self) -> None:
        super().server_close()
        self.layer.replicator.close()


def make_server(host: str, port: int, moto_url: str, lag_ms: float = 50.0) -> LayerServer:
    """Bound (not yet serving) server; run `serve_forever()` in a thread, `shutdown()` and
    `server_close()` after (which also stops the replication worker)."""
    return LayerServer((host, port), DynamoLayer(moto_url, lag_ms / 1000.0))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4568)
    p.add_argument("--moto-url", required=True)
    p.add_argument("--lag-ms", type=float, default=50.0, help="replication lag between regions")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    server = make_server(a.host, a.port, a.moto_url, a.lag_ms)
    server.verbose = a.verbose
    server.run(f"dynamodb layer listening on {server.url} (moto {a.moto_url}, lag {a.lag_ms:g} ms)")


if __name__ == "__main__":
    main()
