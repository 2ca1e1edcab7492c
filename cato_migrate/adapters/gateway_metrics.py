"""GatewayMetrics over a gateway's Prometheus scrape endpoint (`GET <url>/metrics`).

The same parsing serves the traffic edge (cato_migrate/edge/gateway.py, on the sandbox and in a cluster),
which exposes these series among others (all of them: cato_migrate/edge/gateway_stats.py):

    cato_gateway_in_flight{stack="legacy|new"}                          gauge
    cato_gateway_requests_total{stack="legacy|new",outcome="ok|error"}  counter

The in-flight gauges are required for both stacks: a drain check that read an absent gauge as 0
would declare "drained" on a scrape that says nothing, so their absence is an ExternalError.
Request counters that were never incremented may be absent in some client libraries and read as 0.
"""
from __future__ import annotations

import re

from cato_migrate.adapters import http
from cato_migrate.errors import ExternalError
from cato_migrate.ports import StackTraffic

__all__ = ["GatewayScrape", "dual_write_from_text", "parse_samples", "traffic_from_text"]

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) for every sample line of Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        labels = {k: v.replace('\\"', '"').replace("\\\\", "\\") for k, v in _LABEL.findall(m.group(2) or "")}
        out.append((m.group(1), labels, value))
    return out


def traffic_from_text(text: str, source: str = "the gateway") -> StackTraffic:
    in_flight: dict[str, float] = {}
    counts: dict[tuple[str, str], float] = {}
    for name, labels, value in parse_samples(text):
        stack = labels.get("stack")
        if name == "cato_gateway_in_flight" and stack:
            in_flight[stack] = in_flight.get(stack, 0.0) + value
        elif name == "cato_gateway_requests_total" and stack:
            key = (stack, labels.get("outcome", "ok"))
            counts[key] = counts.get(key, 0.0) + value
    missing = [s for s in ("legacy", "new") if s not in in_flight]
    if missing:
        raise ExternalError(
            f"{source} exposes no cato_gateway_in_flight series for stack(s) {', '.join(missing)}",
            hint="check that the URL is the Cato gateway's scrape endpoint (CATO_GATEWAY_URL); "
                 "on --env local, `cato-migrate sandbox status` shows the gateway")

    def n(value: float) -> int:
        return max(int(round(value)), 0)

    return StackTraffic(
        in_flight_legacy=n(in_flight["legacy"]), in_flight_new=n(in_flight["new"]),
        served_legacy=n(counts.get(("legacy", "ok"), 0)), served_new=n(counts.get(("new", "ok"), 0)),
        errors_legacy=n(counts.get(("legacy", "error"), 0)), errors_new=n(counts.get(("new", "error"), 0)))


def dual_write_from_text(text: str) -> dict | None:
    """The edge's dual-write counters (edge/dual_write.py); None when the edge exposes none."""
    out: dict = {}
    for name, labels, value in parse_samples(text):
        if name == "cato_gateway_dual_write_served_total":
            out["served"] = int(value)
        elif name == "cato_gateway_dual_write_total" and labels.get("result"):
            out[labels["result"]] = int(value)
        elif name == "cato_gateway_dual_write_queue_depth":
            out["queued"] = int(value)
        elif name == "cato_gateway_dual_write_active":
            out["active"] = value >= 1
    return out if "served" in out else None


class GatewayScrape:
    """GatewayMetrics: scrape `<url>/metrics` (a base URL, or the full /metrics URL)."""

    def __init__(self, url: str, timeout: float = 5.0):
        url = url.rstrip("/")
        self.url = url if url.endswith("/metrics") else url + "/metrics"
        self.timeout = timeout

    def text(self) -> str:
        what = f"gateway metrics at {self.url}"
        answer = http.open_url(self.url, timeout=self.timeout, what=what,
                               hint="is the gateway running? on --env local run `cato-migrate sandbox up`; "
                                    "otherwise check CATO_GATEWAY_URL")
        return http.answered(answer, what, body=False, hint="check the gateway's logs; on --env local see "
                                                           "`cato-migrate sandbox status`").text

    def traffic(self) -> StackTraffic:
        return traffic_from_text(self.text(), source=f"gateway metrics at {self.url}")

    def dual_write(self) -> dict | None:
        return dual_write_from_text(self.text())

    def probe(self, user: str, model: str = "claude-3-haiku") -> tuple[str, int]:
        """Send one real chat completion as `user`; (the stack that served it, HTTP status)."""
        import json
        import urllib.request

        base = self.url.removesuffix("/metrics")
        body = json.dumps({"model": model, "user": user, "max_tokens": 8,
                           "messages": [{"role": "user", "content": "cato-migrate traffic probe: reply OK"}]}).encode()
        req = urllib.request.Request(base + "/v1/chat/completions", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        answer = http.open_url(req, timeout=max(self.timeout, 30.0), what=f"the gateway at {base} (a probe request)",
                               hint="is the gateway running? on --env local run `cato-migrate sandbox up`")
        return answer.headers.get("x-cato-stack", "unknown"), answer.status_code
