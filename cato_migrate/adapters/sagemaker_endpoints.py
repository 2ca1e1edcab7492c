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

from cato_migrate.adapters.aws import AwsClients, AwsFailure
from cato_migrate.core.endpoint_rollout import DeployedModel, EndpointState, ModelSpec, UpdateUnsupported
from cato_migrate.errors import BadInput, ExternalError, NotFound

VARIANT = "AllTraffic"


def _missing(f: AwsFailure) -> bool:
    return f.code in ("ValidationException", "ResourceNotFound") and "could not find" in f.message.lower()


class SageMakerEndpoints:
    def __init__(self, *, region: str, endpoint_url: str | None = None, runtime_endpoint_url: str | None = None,
                 read_timeout_s: float = 60.0, max_attempts: int = 4):
        self.region = region
        self.endpoint_url, self.runtime_endpoint_url = endpoint_url or None, runtime_endpoint_url or None
        self.read_timeout_s, self.max_attempts = read_timeout_s, max_attempts
        self._aws = AwsClients(region=region, endpoint_url=self.endpoint_url, max_attempts=max_attempts,
                               read_timeout=read_timeout_s)

    # -- plumbing ---------------------------------------------------------------------------
    def _client(self, service: str):
        if service == "sagemaker-runtime":
            # A smoke invocation is judged once: retrying a failing model only delays the rollback.
            return self._aws.get(service, endpoint_url=self.runtime_endpoint_url, max_attempts=1)
        return self._aws.get(service)

    def _call(self, op: str, *, missing_ok: bool = False, **kw):
        where = f"SageMaker {op}"

        def special(f: AwsFailure) -> Exception | None:
            if _missing(f):
                return NotFound(f"{where}: {f.message}", hint="run the deploy step (cato-migrate phase run 1) first")
            if op == "update_endpoint" and (f.status >= 500 or f.code in ("NotImplemented", "InternalFailure")):
                return UpdateUnsupported(f"{where} answered {f.status or f.code}: {f.message.strip()[:160]}")
            if f.code == "ResourceLimitExceeded":
                return ExternalError(f"{where}: {f.message}", hint="request a quota increase for the instance type "
                                     "(Service Quotas > SageMaker) or choose another instance type")
            return None

        try:
            with self._aws.errors(where, special=special, codes={"ResourceInUse": BadInput},
                                  hint="check the SageMaker service health and the region",
                                  credentials_hint="check AWS credentials and that the role may call SageMaker "
                                                   "and iam:PassRole on the execution role"):
                return getattr(self._client("sagemaker"), op)(**kw)
        except NotFound:
            if missing_ok:
                return None
            raise

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
        def special(f: AwsFailure) -> Exception | None:
            if f.code == "ModelError":
                meta = f.response
                return ExternalError(
                    f"endpoint {name}: the container answered {meta.get('OriginalStatusCode', '?')}: "
                    f"{meta.get('OriginalMessage', f.message)}",
                    hint=f"read the container's logs: {meta.get('LogStreamArn') or f'/aws/sagemaker/Endpoints/{name}'}")
            if _missing(f):
                return NotFound(f"endpoint {name} does not exist: {f.message}",
                                hint="run the deploy step (cato-migrate phase run 1) first")
            return None

        started = time.perf_counter()
        with self._aws.errors(f"invoking endpoint {name}", special=special, endpoint_url=self.runtime_endpoint_url,
                              max_attempts=1, hint="check the endpoint is InService and the runtime endpoint URL",
                              unreachable_hint="on --env local run `cato-migrate sandbox up` first"):
            resp = self._client("sagemaker-runtime").invoke_endpoint(
                EndpointName=name, ContentType="application/json", Accept="application/json",
                Body=json.dumps(body).encode())
            raw = resp["Body"].read()
        latency_ms = (time.perf_counter() - started) * 1000
        try:
            return json.loads(raw), latency_ms
        except ValueError:
            raise ExternalError(f"endpoint {name} answered non-JSON: {raw[:200]!r}",
                                hint="the container must answer application/json (see images/README.md)") from None
