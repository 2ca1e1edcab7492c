"""Bounded connections from Ray Serve's HAProxy ingress to each replica, the rest refused by HAProxy with a 429.

Ray 2.60's HAProxy config gives a replica's server line no `maxconn`: under a burst HAProxy opens one
connection to the replica per request in flight. Measured here (docs/performance.md, 2,000 concurrent
sessions on one replica): the replica's accept queue filled (2,048 connections waiting, tens of thousands of
listen overflows), its event loop fell behind, HAProxy's health check marked it DOWN, everything went through
the Python fallback proxy, and 3,669 requests timed out. With a `maxconn` per replica HAProxy keeps the rest
in its own queue (C, microseconds a request) and refuses what does not fit with an answer of ours: 429 with
Retry-After in OpenAI's error shape, as the replica's own admission does.

Ray exposes no setting for it, so this patches the template Ray renders its config from, as the module is
imported in the process that renders it (the Ray head's HAProxy manager): `sitecustomize` in
`orchestrator/ray_hooks/` (production: the RayService puts that directory on PYTHONPATH) or the sandbox's
own hook. Every anchor must match exactly once; if a Ray upgrade changes the template, `TemplateChanged`
is raised and HAProxy is not started with half the limits (tests/unit/test_ingress_limits.py patches Ray's
real template; tests/cli/test_orchestrator_haproxy.py runs the config Ray renders from it).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

TEMPLATE_MODULE = "ray.serve._private.haproxy_templates"
ENV_MAXCONN = "CATO_HAPROXY_REPLICA_MAXCONN"
ENV_MAXQUEUE = "CATO_HAPROXY_REPLICA_MAXQUEUE"
ENV_QUEUE_TIMEOUT_S = "CATO_HAPROXY_QUEUE_TIMEOUT_S"
ENV_RETRY_AFTER_S = "CATO_HAPROXY_RETRY_AFTER_S"
ENV_ERRORFILE_DIR = "CATO_HAPROXY_ERRORFILE_DIR"

# the replica's server line (not the fallback proxy's `backup` line: it only serves while no replica is up)
_SERVER = "server {{ server.name }} {{ server.host }}:{{ server.port }} check{%"
# the HTTP backend of a deployment: its first lines
_BACKEND = ("backend {{ backend.name or 'unknown' }}\n    log global\n"
            "    # Enable HTTP connection reuse for better performance\n    http-reuse always\n")


class TemplateChanged(RuntimeError):
    """Ray's HAProxy template no longer has a line this patch anchors on."""


@dataclass(frozen=True)
class IngressLimits:
    maxconn: int            # requests in flight from HAProxy to one replica (= the replica's max_admitted)
    maxqueue: int           # requests HAProxy holds for a replica beyond that; the next is refused at once
    queue_timeout_s: float  # longest wait in that queue before the request is refused
    retry_after_s: int      # Retry-After of HAProxy's 429

    def __post_init__(self) -> None:
        # HAProxy reads `maxqueue 0` as "no limit": at least 1, so the queue is always bounded
        if self.maxconn < 1 or self.maxqueue < 1 or self.queue_timeout_s <= 0 or self.retry_after_s < 0:
            raise ValueError(f"ingress limits out of range: {self}")


def limits_from_env(env: Mapping[str, str]) -> IngressLimits | None:
    """The limits the Ray head was started with, or None when it sets none (Ray's config unchanged)."""
    if not env.get(ENV_MAXCONN):
        return None
    try:
        return IngressLimits(maxconn=int(env[ENV_MAXCONN]), maxqueue=int(env.get(ENV_MAXQUEUE, "64")),
                             queue_timeout_s=float(env.get(ENV_QUEUE_TIMEOUT_S, "2")),
                             retry_after_s=int(env.get(ENV_RETRY_AFTER_S, "1")))
    except ValueError as exc:
        raise ValueError(f"{ENV_MAXCONN}/{ENV_MAXQUEUE}/{ENV_QUEUE_TIMEOUT_S}/{ENV_RETRY_AFTER_S}: {exc}") from None


def limits_env(maxconn: int, maxqueue: int, queue_timeout_s: float, retry_after_s: int) -> dict[str, str]:
    """The environment a Ray head needs for these limits (the inverse of `limits_from_env`)."""
    IngressLimits(maxconn, maxqueue, queue_timeout_s, retry_after_s)  # refuse bad values here, not in HAProxy
    return {ENV_MAXCONN: str(maxconn), ENV_MAXQUEUE: str(maxqueue), ENV_QUEUE_TIMEOUT_S: f"{queue_timeout_s:g}",
            ENV_RETRY_AFTER_S: str(retry_after_s)}


def limits_env_for(serve) -> dict[str, str]:
    """The environment for a replica's `ServeConfig`: HAProxy lets through what the replica admits."""
    queue = {-1: 100_000, 0: 1}.get(serve.max_queued_requests, serve.max_queued_requests)  # Ray's -1: no bound
    return limits_env(serve.max_admitted, queue, serve.ingress_queue_timeout_s, serve.retry_after_s)


def refusal_http(retry_after_s: int) -> bytes:
    """HAProxy's answer when a replica's connections and queue are full: what the replica's admission sends."""
    from orchestrator.api_errors import error_body

    body = json.dumps(error_body(429, f"the orchestrator is at capacity (every replica busy and its queue full); "
                                      f"retry after {retry_after_s}s", code="at_capacity")).encode()
    head = (f"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: {retry_after_s}\r\n"
            f"Cache-Control: no-store\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def limit_template(template: str, limits: IngressLimits, errorfile: str) -> str:
    """Ray's HAProxy template with `maxconn`/`maxqueue` on each replica's server line, and in each HTTP
    backend a queue timeout and `errorfile 503` (queue full or timed out) answering our 429."""
    if template.count(_SERVER) != 1 or template.count(_BACKEND) != 1:
        raise TemplateChanged(f"{TEMPLATE_MODULE}: the replica server line or the backend header changed "
                              f"(found {template.count(_SERVER)} and {template.count(_BACKEND)}, expected 1 each); "
                              f"orchestrator/ingress_limits.py needs updating for this Ray")
    server = _SERVER.replace(" check{%", f" check maxconn {limits.maxconn} maxqueue {limits.maxqueue}{{%")
    backend = (_BACKEND + f"    timeout queue {int(limits.queue_timeout_s * 1000)}ms\n"
                          f"    errorfile 503 {errorfile}\n")
    return template.replace(_SERVER, server).replace(_BACKEND, backend)


def patch_module(module, env: Mapping[str, str] | None = None) -> IngressLimits | None:
    """Apply the limits from `env` to an imported haproxy_templates module; write the 429 file."""
    env = os.environ if env is None else env
    limits = limits_from_env(env)
    if limits is None:
        return None
    directory = Path(env.get(ENV_ERRORFILE_DIR) or "/tmp/cato-haproxy")
    directory.mkdir(parents=True, exist_ok=True)
    errorfile = directory / f"429-retry-{limits.retry_after_s}.http"
    errorfile.write_bytes(refusal_http(limits.retry_after_s))
    module.HAPROXY_CONFIG_TEMPLATE = limit_template(module.HAPROXY_CONFIG_TEMPLATE, limits, str(errorfile))
    return limits


def on_import(name: str, patch) -> None:
    """Run `patch(module)` right after `name` is first imported in this process (a sitecustomize hook)."""
    import importlib.abc
    import importlib.util
    import sys

    class _Hook(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname != name:
                return None
            sys.meta_path.remove(self)
            try:
                spec = importlib.util.find_spec(fullname)
            finally:
                sys.meta_path.insert(0, self)
            if spec is None or spec.loader is None:
                return spec
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                patch(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _Hook())
