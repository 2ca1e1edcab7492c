"""The sandbox DynamoDB layer's replication knob: pause/resume (the planted fault) and stats."""
from __future__ import annotations

from cato_migrate.errors import ExternalError


class ReplicationAdmin:
    def __init__(self, base_url: str, timeout: float = 10.0):
        import httpx

        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)

    def _req(self, method: str, **kw) -> dict:
        import httpx

        try:
            r = self._http.request(method, "/admin/replication", **kw)
        except httpx.HTTPError as exc:
            raise ExternalError(f"sandbox DynamoDB layer at {self.base_url} unreachable: {exc}",
                                hint="run `cato-migrate sandbox up`") from exc
        if r.status_code >= 400:
            raise ExternalError(f"sandbox DynamoDB layer refused: {r.status_code} {r.text[:200]}")
        return r.json()

    def stats(self) -> dict:
        return self._req("GET")

    def pause(self) -> dict:
        return self._req("POST", json={"paused": True})

    def resume(self) -> dict:
        return self._req("POST", json={"paused": False})

    def set_lag(self, lag_ms: float) -> dict:
        return self._req("POST", json={"lag_ms": lag_ms})
