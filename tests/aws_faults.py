"""Tests only: plant, list and clear AWS faults on a sandbox layer (`/_cato/faults`, see
cato_sandbox/layer_faults.py)."""
from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def _call(base_url: str, method: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base_url.rstrip("/") + "/_cato/faults", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def plant(base_url: str, operation: str, kind: str, count: int = -1, delay_seconds: float | None = None) -> dict:
    """Make `count` requests for `operation` ("*" = any) fail with `kind` (throttle, 5xx, timeout)."""
    body: dict = {"operation": operation, "kind": kind, "count": count}
    if delay_seconds is not None:
        body["delay_seconds"] = delay_seconds
    return _call(base_url, "POST", body)["fault"]


def report(base_url: str) -> dict:
    """{"faults": [...], "spent": [...], "seen": {op: n}, "injected": {op: {kind: n}}}"""
    return _call(base_url, "GET")


def clear(base_url: str) -> dict:
    return _call(base_url, "DELETE")


@contextlib.contextmanager
def cleared(base_url: str) -> Iterator[str]:
    """Counters from zero on entry; no fault left behind on exit."""
    clear(base_url)
    try:
        yield base_url
    finally:
        clear(base_url)


def sandbox_layer_url(work_dir: str | Path, component: str = "appconfig") -> str:
    """A running sandbox's layer URL, from its state in `work_dir` (the CLI's CATO_WORK_DIR)."""
    from cato_sandbox.manager import load_sandbox_state

    for c in (load_sandbox_state(work_dir) or {}).get("components", []):
        if c["name"] == component:
            return c["url"]
    raise AssertionError(f"no {component} component in the sandbox at {work_dir}")
