"""Run the orchestrator on a local Ray cluster as a sandbox process.

    python -m cato_sandbox.orchestrator_main --ray-address 127.0.0.1:PORT --port HTTP_PORT --state-dir DIR --admin-token-file FILE

Settings in DIR/orchestrator-overrides.json (if present) are merged into the config, e.g.
{"history_turns": 0} or {"cache": {"enabled": false}}. Deploys the Serve app (HTTP proxy on 127.0.0.1:HTTP_PORT), then stays up as the handle the
sandbox manager stops: on SIGTERM it shuts Serve down and exits.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ray-address", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state-dir", required=True, help="sandbox state dir (its sandbox.json names simulator, redis, moto)")
    ap.add_argument("--admin-token-file", default="", help="file holding the bearer token for /admin")
    ap.add_argument("--api-key-file", default="",
                    help="file holding the client API key (the sandbox's litellm.key: clients keep their key)")
    args = ap.parse_args(argv)

    import ray
    from ray import serve

    from orchestrator.config import key_file_entries
    from orchestrator.serve_app import build_app

    from cato_sandbox.orchestrator_config import SANDBOX_PRINCIPAL, read_overrides, sandbox_config, sandbox_serve
    from cato_sandbox.state import read_state

    state = read_state(args.state_dir)
    if state is None:
        ap.error(f"no sandbox is recorded in {args.state_dir}")
    overrides = read_overrides(args.state_dir)
    if args.api_key_file:
        overrides.setdefault("api_keys", key_file_entries(Path(args.api_key_file), SANDBOX_PRINCIPAL))
    serve_settings = sandbox_serve(overrides).model_copy(update={"port": args.port})   # the port is the launcher's
    overrides.pop("serve", None)
    config = sandbox_config(state, **overrides, serve=serve_settings.model_dump(),
                            admin_token=Path(args.admin_token_file).read_text().strip() if args.admin_token_file else "")
    ray.init(address=args.ray_address, namespace="cato", log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": args.port})
    serve.run(build_app(config), name="cato", route_prefix="/")
    print(f"orchestrator serving on http://127.0.0.1:{args.port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    try:
        serve.shutdown()
    finally:
        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
