"""The sandbox DynamoDB layer's replication knob: pause/resume (the planted fault) and stats."""
from __future__ import annotations

from cato_migrate.adapters import http


class ReplicationAdmin:
    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self._http = http.client(self.base_url, timeout=timeout)

    def _req(self, method: str, **kw) -> dict:
        with http.transport_errors(f"sandbox DynamoDB layer at {self.base_url}", hint="run `cato-migrate sandbox up`"):
            r = self._http.request(method, "/admin/replication", **kw)
        return http.answered(r, "sandbox DynamoDB layer (replication admin)").json()

    def stats(self) -> dict:
        return self._req("GET")

    def pause(self) -> dict:
        return self._req("POST", json={"paused": True})

    def resume(self) -> dict:
        return self._req("POST", json={"paused": False})

    def set_lag(self, lag_ms: float) -> dict:
        return self._req("POST", json={"lag_ms": lag_ms})
