"""The orchestrator's Ray Serve ingress on the sandbox: the environment the Ray head and the driver get."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cato_sandbox import procs

_REPO = Path(__file__).resolve().parents[1]


def ingress_env(mode: str, state_dir: Path) -> dict[str, str]:
    """Ray Serve's ingress on the sandbox.

    `haproxy` (default, as the RayService manifest ships): Ray 2.60's high-throughput ingress
    (HAProxy + direct ingress, one loop per replica). `proxy`: Ray's Python HTTP proxy, the fallback.
    In Ray 2.60 that mode binds HAProxy's stats page and its Prometheus exporter to ALL interfaces,
    with no setting to narrow them: here a sitecustomize hook (ray_loopback/) rewrites those two
    binds to 127.0.0.1, the replica's own port follows the node IP (127.0.0.1), the two ports are
    free ports chosen per sandbox, HAProxy's files live
    in a directory of this sandbox's own (not the shared /tmp/haproxy-serve), and the drain on
    delete is 2 s, not 30. The same hook bounds HAProxy's connections to the replica at the
    replica's max_admitted and answers the overflow with a 429 (orchestrator/ingress_limits.py),
    from the serve settings the sandbox's orchestrator runs with.
    """
    if mode != "haproxy":
        return {}
    base = haproxy_dir(state_dir)
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    return {**_limits(state_dir, base), "RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
            "RAY_SERVE_HAPROXY_NBTHREAD": "1", "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2",
            "RAY_SERVE_HAPROXY_STATS_PORT": str(procs.free_port()),
            "RAY_SERVE_HAPROXY_METRICS_PORT": str(procs.free_port()),
            "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(base / "haproxy.cfg"),
            "RAY_SERVE_HAPROXY_SOCKET_PATH": str(base / "admin.sock"),
            "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(base),
            "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(base / "server-state"),
            # ray_loopback/sitecustomize.py rewrites the stats and exporter binds to 127.0.0.1
            "PYTHONPATH": os.pathsep.join([str(Path(__file__).with_name("ray_loopback")),
                                           str(_REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def _limits(state_dir: Path, base: Path) -> dict[str, str]:
    from orchestrator.ingress_limits import ENV_ERRORFILE_DIR, limits_env_for

    from cato_sandbox.orchestrator_config import read_overrides, sandbox_serve

    return {**limits_env_for(sandbox_serve(read_overrides(state_dir))), ENV_ERRORFILE_DIR: str(base)}


def haproxy_dir(state_dir: Path) -> Path:
    """Short on purpose: Ray adds a 56-character node id, and HAProxy refuses an admin socket path
    over 97 characters, which a state dir under pytest's tmp already exceeds."""
    digest = hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:10]
    return Path("/tmp") / f"cato-hap-{digest}"
