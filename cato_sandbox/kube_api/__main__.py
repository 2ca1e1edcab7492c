"""python -m cato_sandbox.kube_api --host 127.0.0.1 --port P [--deployment-delay S] [--rayservice-delay S]"""
from __future__ import annotations

import argparse
import sys

from cato_sandbox.kube_api.server import serve


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Kubernetes JSON API stand-in (loopback only)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--deployment-delay", type=float, default=0.5, help="seconds before readyReplicas follows spec.replicas")
    ap.add_argument("--rayservice-delay", type=float, default=1.0, help="seconds before a RayService reports Ready")
    args = ap.parse_args(argv)
    serve(args.host, args.port, deployment_delay=args.deployment_delay, rayservice_delay=args.rayservice_delay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
