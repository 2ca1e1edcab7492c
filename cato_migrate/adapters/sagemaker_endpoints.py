"""Model endpoints on SageMaker (boto3 `sagemaker` + `sagemaker-runtime`), the `ModelEndpoints` port.

boto3 is imported on first use. Vendor errors become our error tree:

* "Could not find ..." (SageMaker answers ValidationException for a missing resource) -> None /
  NotFound, so callers can say "waiting: run the deploy step";
* UpdateEndpoint answering 5xx or NotImplemented -> UpdateUnsupported (the rollout decides
  whether a fallback is allowed);
* runtime ModelError (424: the container failed) -> ExternalError naming the container's status
  and message, and where its logs are;
* throttling, other 5xx, unreachable endpoint -> ExternalError with what to check.

On the sandbox the control plane is the moto server and the runtime is the model simulator.
"""
from __future__ import annotations

import json
import time
from typing import Any

from cato_migrate.core.endpoint_rollout import DeployedModel, EndpointState, ModelSpec, UpdateUnsupported
from cato_migrate.errors import BadInput, ExternalError, NotFound

VARIANT = "AllTraffic"


def _missing(exc: Any) -> bool:
    err = exc.response.get("Error", {})
    return err.get("Code") in ("ValidationException", "ResourceNotFound") and "could not find" in \
        str(err.get("Message", "")).lower()


class SageMakerEndpoints:
    def __init__(self, *, region: str, endpoint_url: str | None = None, runtime_endpoint_url: str | None = None,
                 read_timeout_s: float = 60.0, max_attempts: int = 4):
        self.region = region
        self.endpoint_url, self.runtime_endpoint_url = endpoint_url or None, runtime_endpoint_url or None
        self.read_timeout_s, self.max_attempts = read_timeout_s, max_attempts
        self._clients: dict[str, Any] = {}

    # -- plumbing ---------------------------------------------------------------------------
    def _client(self, service: str):
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            runtime = service == "sagemaker-runtime"
            # A smoke invocation is judged once: retrying a failing model only delays the rollback.
            retries = {"mode": "standard", "total_max_attempts": 1 if runtime else self.max_attempts}
            self._clients[service] = boto3.client(
                service, region_name=self.region,
                endpoint_url=self.runtime_endpoint_url if runtime else self.endpoint_url,
                config=Config(retries=retries, connect_timeout=5, read_timeout=self.read_timeout_s))
        return self._clients[service]

    def _call(self, op: str, *, missing_ok: bool = False, **kw):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client("sagemaker"), op)(**kw)
        except ClientError as exc:
            if missing_ok and _missing(exc):
                return None
            err = exc.response.get("Error", {})
            code, msg = err.get("Code", ""), err.get("Message", str(exc))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            where = f"SageMaker {op}"
            if _missing(exc):
                raise NotFound(f"{where}: {msg}", hint="run the deploy step (cato-migrate phase run 1) first") from exc
            if op == "update_endpoint" and (status >= 500 or code in ("NotImplemented", "InternalFailure")):
                raise UpdateUnsupported(f"{where} answered {status or code}: {msg.strip()[:160]}") from exc
            if code in ("ResourceLimitExceeded",):
                raise ExternalError(f"{where}: {msg}", hint="request a quota increase for the instance type "
                                    "(Service Quotas > SageMaker) or choose another instance type") from exc
            if code in ("ValidationException", "ResourceInUse"):
                raise BadInput(f"{where} refused the request: {msg}") from exc
            if code in ("AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException"):
                raise ExternalError(f"{where}: {code}: {msg}", hint="check AWS credentials and that the "
                                    "role may call SageMaker and iam:PassRole on the execution role") from exc
            raise ExternalError(f"{where} failed after retries: {code} {msg}",
                                hint="check the SageMaker service health and the region") from exc
        except BotoCoreError as exc:
            raise ExternalError(f"SageMaker {op}: cannot reach {self.endpoint_url or 'AWS'}: {exc}",
                                hint="on --env local run `cato-migrate sandbox up` first; otherwise check "
                                     "network and credentials") from exc

    # -- control plane -------------------------------------------------------------------------
    def describe_endpoint(self, name: str) -> EndpointState:
        out = self._call("describe_endpoint", missing_ok=True, EndpointName=name)
        if out is None:
            return EndpointState(name=name)
        return EndpointState(name=name, status=out.get("EndpointStatus"), config=out.get("EndpointConfigName"),
                             failure_reason=out.get("FailureReason") or None)

    def model_exists(self, name: str) -> bool:
        return self._call("describe_model", missing_ok=True, ModelName=name) is not None

    def config_exists(self, name: str) -> bool:
        return self._call("describe_endpoint_config", missing_ok=True, EndpointConfigName=name) is not None

    def create_model(self, name: str, spec: ModelSpec) -> None:
        self._call("create_model", ModelName=name, ExecutionRoleArn=spec.execution_role_arn,
                   PrimaryContainer={"Image": spec.image, "Environment": dict(spec.environment)},
                   Tags=[{"Key": "cato:endpoint", "Value": spec.endpoint}])

    def create_endpoint_config(self, name: str, model: str, spec: ModelSpec) -> None:
        self._call("create_endpoint_config", EndpointConfigName=name, ProductionVariants=[{
            "VariantName": VARIANT, "ModelName": model, "InstanceType": spec.instance_type,
            "InitialInstanceCount": spec.instance_count}],
            Tags=[{"Key": "cato:endpoint", "Value": spec.endpoint}])

    def create_endpoint(self, name: str, config: str) -> None:
        self._call("create_endpoint", EndpointName=name, EndpointConfigName=config)

    def update_endpoint(self, name: str, config: str) -> None:
        self._call("update_endpoint", EndpointName=name, EndpointConfigName=config)

    def delete_endpoint(self, name: str) -> None:
        self._call("delete_endpoint", missing_ok=True, EndpointName=name)

    def deployed_model(self, name: str) -> DeployedModel | None:
        ep = self.describe_endpoint(name)
        if ep.status is None or not ep.config:
            return None
        cfg = self._call("describe_endpoint_config", missing_ok=True, EndpointConfigName=ep.config)
        variants = (cfg or {}).get("ProductionVariants") or []
        if not variants:
            return None
        model = self._call("describe_model", missing_ok=True, ModelName=variants[0]["ModelName"]) or {}
        container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
        return DeployedModel(endpoint=ep, model=variants[0]["ModelName"], image=container.get("Image", ""),
                             environment=container.get("Environment") or {},
                             instance_type=variants[0].get("InstanceType", ""))

    # -- runtime -----------------------------------------------------------------------------------
    def invoke(self, name: str, body: dict) -> tuple[Any, float]:
        from botocore.exceptions import BotoCoreError, ClientError

        started = time.perf_counter()
        try:
            resp = self._client("sagemaker-runtime").invoke_endpoint(
                EndpointName=name, ContentType="application/json", Accept="application/json",
                Body=json.dumps(body).encode())
            raw = resp["Body"].read()
        except ClientError as exc:
            err, meta = exc.response.get("Error", {}), exc.response
            code, msg = err.get("Code", ""), err.get("Message", str(exc))
            if code == "ModelError":
                raise ExternalError(
                    f"endpoint {name}: the container answered {meta.get('OriginalStatusCode', '?')}: "
                    f"{meta.get('OriginalMessage', msg)}",
                    hint=f"read the container's logs: {meta.get('LogStreamArn') or f'/aws/sagemaker/Endpoints/{name}'}"
                ) from exc
            if _missing(exc):
                raise NotFound(f"endpoint {name} does not exist: {msg}",
                               hint="run the deploy step (cato-migrate phase run 1) first") from exc
            raise ExternalError(f"invoking endpoint {name}: {code} {msg}",
                                hint="check the endpoint is InService and the runtime endpoint URL") from exc
        except BotoCoreError as exc:
            raise ExternalError(f"invoking endpoint {name}: cannot reach {self.runtime_endpoint_url or 'AWS'}: {exc}",
                                hint="on --env local run `cato-migrate sandbox up` first") from exc
        latency_ms = (time.perf_counter() - started) * 1000
        try:
            return json.loads(raw), latency_ms
        except ValueError:
            raise ExternalError(f"endpoint {name} answered non-JSON: {raw[:200]!r}",
                                hint="the container must answer application/json (see images/README.md)") from None
