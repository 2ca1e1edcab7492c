"""OpenSearch Serverless control plane (boto3 `opensearchserverless`, imported lazily):
security policies, data access policies and collections, with vendor errors mapped onto the
project's tree by adapters/aws.py (ResourceNotFound -> NotFound, Conflict -> Conflict,
ValidationException -> BadInput, the rest -> ExternalError)."""
from __future__ import annotations

import json
import time
from typing import Any, Callable

from cato_migrate.adapters.aws import AwsClients
from cato_migrate.errors import Conflict, ExternalError, NotFound


class OpenSearchCollections:
    def __init__(self, region: str, endpoint_url: str | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.region, self.endpoint_url, self._sleep = region, endpoint_url or None, sleep
        # botocore's default timeouts (60 s), as before the seam; own session, as before
        self._aws = AwsClients(region=region, endpoint_url=self.endpoint_url, connect_timeout=60, read_timeout=60,
                               own_session=True)

    @property
    def _client(self) -> Any:
        return self._aws.get("opensearchserverless")

    def _call(self, op: str, what: str, **kwargs: Any) -> dict:
        where = f"OpenSearch Serverless {what} in {self.region}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")
        with self._aws.errors(
                f"{where}: {op}",
                hints={Conflict: "it already exists or is changing; re-run the step (it is idempotent)"},
                credentials_hint="the role needs aoss:* on the collection and its policies",
                hint="ValidationException usually names the field; otherwise re-run",
                unreachable_hint="check the network/endpoint (`cato-migrate sandbox up` for local)"):
            return getattr(self._client, op)(**kwargs)

    def get_security_policy(self, name: str, type: str) -> dict | None:
        try:
            return self._call("get_security_policy", f"{type} policy {name}", name=name, type=type)["securityPolicyDetail"]
        except NotFound:
            return None

    def create_security_policy(self, name: str, type: str, policy: Any, description: str = "") -> dict:
        return self._call("create_security_policy", f"{type} policy {name}", name=name, type=type,
                          policy=json.dumps(policy), description=description)["securityPolicyDetail"]

    def create_access_policy(self, name: str, policy: Any, description: str = "") -> dict:
        return self._call("create_access_policy", f"access policy {name}", name=name, type="data",
                          policy=json.dumps(policy), description=description)

    def get_access_policy(self, name: str) -> dict | None:
        try:
            return self._call("get_access_policy", f"access policy {name}", name=name, type="data")["accessPolicyDetail"]
        except NotFound:
            return None

    def collection(self, name: str) -> dict | None:
        """The collection's details (id, status, endpoint), or None."""
        got = self._call("batch_get_collection", f"collection {name}", names=[name])
        details = got.get("collectionDetails") or []
        return details[0] if details else None

    def create_collection(self, name: str, type: str, description: str = "") -> dict:
        return self._call("create_collection", f"collection {name}", name=name, type=type,
                          description=description)["createCollectionDetail"]

    def wait_active(self, name: str, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            c = self.collection(name)
            status = (c or {}).get("status", "MISSING")
            if status == "ACTIVE":
                return c  # type: ignore[return-value]
            if status == "FAILED" or time.monotonic() >= deadline:
                raise ExternalError(f"OpenSearch Serverless collection {name} is {status} after waiting",
                                    hint="look at the collection in the console; re-run the step to keep waiting")
            self._sleep(5.0 if self.endpoint_url is None else 0.1)
