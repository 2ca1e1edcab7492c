"""The orchestrator's public HTTP API (OpenAI-compatible + /admin) and the simulator's fault knob."""
from __future__ import annotations

from cato_migrate.adapters import http

_HINT = "is it installed? `cato-migrate orchestrator install --env local`"


class OrchestratorHttp:
    def __init__(self, base_url: str, admin_token: str = "", timeout: float = 60.0, api_key: str = ""):
        self.base_url = base_url.rstrip("/")
        self._http = http.client(self.base_url, timeout=timeout)
        self._admin = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
        self.api_key = api_key
        self._client = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def _req(self, method: str, path: str, **kw) -> dict:
        with http.transport_errors(f"orchestrator at {self.base_url}", hint=_HINT):
            r = self._http.request(method, path, **kw)
        return http.answered(r, f"orchestrator {method} {path}").json()

    def health(self) -> dict:
        return self._req("GET", "/healthz")

    def chat(self, query: str, *, session_id: str | None = None, domain: str = "general") -> dict:
        headers = {**self._client, **({"x-session-id": session_id} if session_id else {})}
        body = {"model": "cato", "messages": [{"role": "user", "content": query}], "metadata": {"domain": domain}}
        return self._req("POST", "/v1/chat/completions", json=body, headers=headers)

    def breakers(self) -> dict:
        return self._req("GET", "/admin/breakers", headers=self._admin)

    def reset_breakers(self) -> None:
        self._req("POST", "/admin/breakers/reset", headers=self._admin)

    # -- the admin fault switch (orchestrator/faults.py) ------------------------------------------
    def set_fault(self, tier: str, seconds: float, error_rate: float = 1.0) -> dict:
        return self._req("POST", "/admin/faults", json={"tier": tier, "seconds": seconds, "error_rate": error_rate},
                         headers=self._admin)

    def clear_faults(self, tier: str | None = None) -> dict:
        return self._req("POST", "/admin/faults/clear", json={"tier": tier} if tier else {}, headers=self._admin)

    def faults(self) -> dict:
        return self._req("GET", "/admin/faults", headers=self._admin)

    def metrics_text(self) -> str:
        return self._http.get("/metrics").text

    # -- memory admin (orchestrator/memory/admin.py) ---------------------------------------------
    def add_episode(self, episode: dict) -> dict:
        return self._req("POST", "/admin/memory/episodes", json=episode, headers=self._admin)

    def search_episodes(self, query: str, *, k: int = 5, user_id: str | None = None) -> dict:
        return self._req("POST", "/admin/memory/episodes/search", json={"query": query, "k": k, "user_id": user_id},
                         headers=self._admin)

    def consolidate(self, *, session_id: str | None = None, interaction: dict | None = None,
                    domain: str = "general", principal: str | None = None) -> dict:
        body = {"domain": domain, **({"session_id": session_id} if session_id else {}),
                **({"interaction": interaction} if interaction else {}),
                **({"principal": principal} if principal else {})}
        return self._req("POST", "/admin/memory/consolidate", json=body, headers=self._admin)

    def facts(self, domain: str) -> dict:
        return self._req("GET", "/admin/memory/facts", params={"domain": domain}, headers=self._admin)

    def delete_fact(self, domain: str, fact_id: str) -> None:
        self._req("POST", "/admin/memory/facts/delete", json={"domain": domain, "fact_id": fact_id}, headers=self._admin)

    def read_latency(self, n: int = 200) -> dict:
        return self._req("POST", "/admin/memory/read-latency", json={"n": n}, headers=self._admin)

    def chat_stream(self, query: str, *, session_id: str | None = None, domain: str = "general") -> dict:
        """A streamed completion: the parsed SSE chunks, the content deltas and whether [DONE] came."""
        import json

        headers = {**self._client, **({"x-session-id": session_id} if session_id else {})}
        body = {"model": "cato", "stream": True, "messages": [{"role": "user", "content": query}],
                "metadata": {"domain": domain}}
        chunks, done = [], False
        with http.transport_errors(f"orchestrator at {self.base_url}", then="while streaming"):
            with self._http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
                if r.status_code >= 400:
                    r.read()  # a streamed body is there only once read
                    http.answered(r, "orchestrator streaming POST")
                for line in r.iter_lines():
                    data = line.removeprefix("data: ").strip() if line.startswith("data:") else ""
                    if data == "[DONE]":
                        done = True
                    elif data:
                        chunks.append(json.loads(data))
        deltas = [c["choices"][0]["delta"].get("content", "") for c in chunks if c.get("choices")]
        return {"chunks": chunks, "deltas": [d for d in deltas if d], "done": done,
                "model": chunks[0].get("model") if chunks else None, "cato": chunks[0].get("cato") if chunks else None}

    def status_without_token(self, path: str = "/admin/breakers") -> int:
        """The HTTP status of an admin call made with no credentials (the admin API must refuse it)."""
        with http.transport_errors(f"orchestrator at {self.base_url}"):
            return self._http.get(path).status_code


class SimulatorFaults:
    """Plants backend faults through the model simulator's admin API (sandbox only)."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self._http = http.client(self.base_url, timeout=10.0)

    def fail_tier(self, tier: str, error_rate: float) -> None:
        with http.transport_errors(f"simulator admin at {self.base_url}"):
            r = self._http.put("/admin/config", json={"tiers": {tier: {"error_rate": error_rate}}})
        http.answered(r, "simulator admin (planting a fault)")

    def clear(self) -> None:
        with http.transport_errors(f"simulator admin at {self.base_url}"):
            self._http.post("/admin/reset")
