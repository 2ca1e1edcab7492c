"""The HTTP side of `cato-migrate cost`: one chat request to each stack, and today's spend.

    LegacyChat        POST <litellm>/v1/chat/completions with the client's model name; the cost is
                      LiteLLM's own, from its `x-litellm-response-cost` response header
    OrchestratorChat  POST <orchestrator>/v1/chat/completions with model `cato` (routed); the tier,
                      usage and cache hit come from the answer (`cato.tier`, `usage`, `cato.cache`)
    orchestrator_spend   the orchestrator's own /metrics counters (since it started)
    prometheus_spend     `sum(increase(cato_cost_usd_total[24h]))` through Prometheus' HTTP API

Errors are ExternalError (exit 4): unreachable, an HTTP error, an answer of the wrong shape.
"""
from __future__ import annotations

from cato_migrate.adapters import http
from cato_migrate.core.cost import Answer
from cato_migrate.core.cost_mix import MAX_TOKENS, MixRequest
from cato_migrate.errors import ExternalError

COST_HEADER = "x-litellm-response-cost"
SPEND_QUERY = "sum(increase(cato_cost_usd_total[24h]))"


class _Chat:
    what = "stack"
    health_path = "/health"

    def __init__(self, base_url: str, api_key: str, timeout: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self._http = http.client(self.base_url, timeout=timeout,
                                 headers={"Authorization": f"Bearer {api_key}"} if api_key else {})

    def check(self) -> None:
        """A quick answer from the stack, before anything is sent or journaled."""
        then = "nothing was measured or journaled"
        with http.transport_errors(f"{self.what} at {self.base_url}", hint=self.hint, then=then,
                                   failed="is not running"):
            r = self._http.get(self.health_path, timeout=5.0)
        http.answered(r, f"{self.what} at {self.base_url} is not ready: GET {self.health_path}", hint=self.hint,
                      then=then, above=500, body=False)

    def _post(self, body: dict):
        then = "nothing was journaled"
        with http.transport_errors(f"{self.what} at {self.base_url}", hint=self.hint, then=then,
                                   failed="failed mid-measurement"):
            r = self._http.post("/v1/chat/completions", json=body)
        http.answered(r, f"{self.what} (a chat request)", hint=self.hint, then=then)
        try:
            return r, r.json()
        except ValueError:
            raise ExternalError(f"{self.what} answered a chat request with something that is not JSON") from None

    @staticmethod
    def _usage(data: dict) -> tuple[int, int]:
        usage = data.get("usage") or {}
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


class LegacyChat(_Chat):
    what = "LiteLLM (legacy stack)"
    health_path = "/health/readiness"
    hint = ("on --env local run `cato-migrate sandbox up` (it runs LiteLLM); elsewhere set legacy_url "
            "(CATO_LEGACY_URL) to the LiteLLM proxy")

    def send(self, req: MixRequest) -> Answer:
        r, data = self._post({"model": req.legacy_model, "max_tokens": MAX_TOKENS,
                              "messages": [{"role": "user", "content": req.prompt}]})
        raw = r.headers.get(COST_HEADER)
        try:
            usd = float(raw) if raw not in (None, "", "None") else None
        except ValueError:
            usd = None  # counted as unpriced, never as free
        p, c = self._usage(data)
        return Answer("legacy", req.legacy_model, p, c, usd=usd)


class OrchestratorChat(_Chat):
    what = "the orchestrator (new stack)"
    health_path = "/healthz"
    hint = ("on --env local run `cato-migrate orchestrator install`; elsewhere set orchestrator_url "
            "(CATO_ORCHESTRATOR_URL)")

    def send(self, req: MixRequest) -> Answer:
        _, data = self._post({"model": "cato", "max_tokens": MAX_TOKENS, "metadata": {"domain": req.domain},
                              "messages": [{"role": "user", "content": req.prompt}]})
        cato = data.get("cato")
        if not isinstance(cato, dict) or not cato.get("tier"):
            raise ExternalError("the orchestrator's answer has no `cato.tier`: it cannot be priced per tier")
        p, c = self._usage(data)
        cached = bool(cato.get("cached"))
        saved = (cato.get("cache") or {}).get("usage_saved") if cached else None
        return Answer("new", cato["tier"], p, c, cached=cached, saved_usage=saved)


def orchestrator_spend(base_url: str, timeout: float = 5.0) -> tuple[float | None, dict]:
    """(USD since the orchestrator started, by tier) from its /metrics; None: no cost series exported."""
    from cato_migrate.adapters.gateway_metrics import parse_samples
    from cato_migrate.core.cost import spend_from_samples

    what = f"the orchestrator's /metrics at {base_url}"
    with http.transport_errors(what), http.client(base_url, timeout=timeout) as c:
        r = c.get("/metrics")
    return spend_from_samples(parse_samples(http.answered(r, what, body=False).text))


def prometheus_spend(url: str) -> float | None:
    """Spend over the last 24 h from Prometheus; None: it has no cato_cost_usd_total series."""
    from cato_migrate.adapters.prometheus_metrics import PrometheusMetrics

    return PrometheusMetrics(url, queries=None).instant(SPEND_QUERY)


def read_spend(prom: str | None, orch: str | None, hint: str = "") -> tuple[float | None, str, str]:
    """(USD spent today or None, where it was read, why it could not be). Prometheus when one is
    configured (wiring's Services.spend_sources: on the sandbox its own), else the orchestrator's
    counters since it started (said so in the source), else nothing to read (`hint` says what to do)."""
    if prom:
        spend = prometheus_spend(prom)
        return spend, f"prometheus {prom}: {SPEND_QUERY}", (
            "" if spend is not None else "Prometheus has no cato_cost_usd_total series over the last 24 h "
                                         "(no priced answer scraped yet, or the orchestrator has no prices configured)")
    if orch:
        spend, _ = orchestrator_spend(orch)
        source = f"orchestrator {orch.rstrip('/')}/metrics: cato_cost_usd_total since it started (no Prometheus " \
                 "configured, so not a 24 h window)"
        return spend, source, "" if spend is not None else "the orchestrator exports no cato_cost_usd_total " \
                                                          "(no prices in its configuration)"
    return None, "-", ("no Prometheus (prometheus_url) and no orchestrator (orchestrator_url) to read spend from"
                       + (f"; {hint}" if hint else ""))
