"""Sandbox HTTP layer that completes moto's AppConfig for unchanged boto3 code.

moto 5.2.5 serves AppConfig applications, configuration profiles and hosted configuration
versions, but has no environments, deployment strategies, deployments and no ``appconfigdata``.
This stdlib server speaks AWS's REST-JSON wire protocol for those (state in
:mod:`cato_sandbox.appconfig_state`) and forwards everything else verbatim to moto::

    python -m cato_sandbox.appconfig_layer --host 127.0.0.1 --port 4567 \\
        --moto-url http://127.0.0.1:5000 [--minute-seconds 1.0]

then ``boto3.client("appconfig", endpoint_url=LAYER)`` and
``boto3.client("appconfigdata", endpoint_url=LAYER)``.  ``GET /healthz`` answers
``{"ok": true}``; ``POST /moto-api/reset`` is forwarded and also clears the layer's state.
``/_cato/faults`` plants throttling, 5xx and timeouts on chosen operations
(:mod:`cato_sandbox.layer_faults`).

Choices where AWS behaviour could not be confirmed or is compressed for the sandbox:

* Time: one strategy-minute lasts ``minute_seconds`` real seconds; a session's
  ``RequiredMinimumPollIntervalInSeconds`` is enforced compressed the same way.
* State is kept per (``x-moto-account-id`` header, signing region), mirroring moto's isolation.
* ``GetLatestConfiguration`` before anything was deployed for the profile answers 200 with an
  empty body and ``Content-Type: application/octet-stream`` (not an error).
* ``Version-Label`` carries the served ConfigurationVersion when content is returned and is
  absent on an unchanged (empty) poll.  Real AWS puts the hosted version's user-defined
  VersionLabel there instead; the Deployment's ``VersionLabel`` field does carry that label.
* ``StopDeployment`` goes straight to ``ROLLED_BACK`` (AWS passes through ``ROLLING_BACK``);
  with ``Allow-Revert: true`` a COMPLETE deployment becomes ``REVERTED``, otherwise stopping a
  COMPLETE one is a BadRequestException.
* Environment ``Monitors`` (CloudWatch alarms) are validated as AWS does (AlarmArn required, at
  most 5) and honoured: an alarm in ALARM or INSUFFICIENT_DATA, read from moto's CloudWatch,
  rolls a DEPLOYING or BAKING deployment back (EventLog ``TriggeredBy: CLOUDWATCH_ALARM`` naming
  the alarm ARN); see :mod:`cato_sandbox.appconfig_monitors`.
* Application and configuration-profile names (for appconfigdata identifiers) are learnt from
  moto's responses passing through this layer, or looked up in moto by id on demand.
  ``ListApplications`` (a 500 in moto) is answered from the applications learnt that way which
  moto still has; an application created directly in moto is listed once fetched via the layer.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

from cato_sandbox.appconfig_moto import (
    HOP_BY_HOP,
    Internal,
    MotoForwarder,
    Reply,
    check_moto,
    error_reply,
)
from cato_sandbox.appconfig_routes import ROUTES, Layer
from cato_sandbox.layer_http import LayerHandler
from cato_sandbox.layer_http import LayerServer as _LayerServer

# The moto side and the routing live in appconfig_moto / appconfig_routes; re-exported here.
__all__ = ["HOP_BY_HOP", "ROUTES", "Handler", "Internal", "Layer", "LayerServer", "MotoForwarder",
           "Reply", "check_moto", "error_reply", "main", "make_server"]


class Handler(LayerHandler):
    def answer(self, body: bytes) -> Reply:
        try:
            return self.server.layer.handle(self.command, self.path, self.headers, body)
        except Exception as e:  # noqa: BLE001 - turned into an AWS-style 500
            return Reply(500, {"Message": f"{type(e).__name__}: {e}"}, {"x-amzn-ErrorType": "InternalServerException"})


class LayerServer(_LayerServer):
    def __init__(self, addr: tuple[str, int], layer: Layer, verbose: bool = False) -> None:
        super().__init__(addr, layer, Handler, verbose)


def make_server(host: str, port: int, moto_url: str, minute_seconds: float = 1.0,
                clock: Callable[[], float] = time.monotonic) -> LayerServer:
    """Bound (not yet serving) server; run ``serve_forever()`` in a thread, ``shutdown()`` after."""
    return LayerServer((host, port), Layer(moto_url, minute_seconds, clock))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4567)
    p.add_argument("--moto-url", required=True)
    p.add_argument("--minute-seconds", type=float, default=1.0)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    server = make_server(a.host, a.port, a.moto_url, a.minute_seconds)
    server.verbose = a.verbose
    server.run(f"appconfig layer listening on {server.url} (moto {a.moto_url})")


if __name__ == "__main__":
    main()
