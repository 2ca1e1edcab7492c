"""Week 10: the OpenSearch Serverless collection for episodic memory (vector search).

Order: encryption policy (a collection cannot be created without one) -> collection -> network
policy -> optional data access policy -> wait ACTIVE. Each part is created only when missing.
On the sandbox the control plane is moto's (metadata only: nothing serves the collection's
endpoint), which also requires a customer KMS key ARN in the encryption policy; a placeholder
ARN is used there and the plan says so.
"""
from __future__ import annotations

from pydantic import Field

from cato_migrate.core.environment import EnvironmentProfile
from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel
from cato_migrate.errors import BadInput


class CollectionParams(CoreModel):
    collection: str = Field(min_length=3, max_length=28, pattern=r"^[a-z][a-z0-9-]+$",
                            description="Collection name (its policies are named <collection>-enc/-net/-access).")
    type: str = Field(default="VECTORSEARCH", description="Collection type; episodic memory needs k-NN: VECTORSEARCH.")
    kms_key_arn: str = Field(default="", description="Customer KMS key for encryption at rest; empty: an AWS-owned key.")
    vpc_endpoints: list[str] = Field(default_factory=list, description="OpenSearch Serverless VPC endpoint ids allowed in.")
    allow_public: bool = Field(default=False, description="Allow access from the internet (not for production data).")
    data_access_principals: list[str] = Field(default_factory=list,
                                              description="IAM role/user ARNs (the orchestrator's) given index read/write.")
    timeout_s: float = Field(default=900.0, gt=0, description="How long to wait for ACTIVE.")


def encryption_policy(p: CollectionParams, profile: EnvironmentProfile) -> dict:
    rules = [{"ResourceType": "collection", "Resource": [f"collection/{p.collection}"]}]
    kms = p.kms_key_arn or profile.default_kms_arn
    return {"Rules": rules, "KmsARN": kms} if kms else {"Rules": rules, "AWSOwnedKey": True}


def network_policy(p: CollectionParams) -> list[dict]:
    rule = {"Rules": [{"ResourceType": "collection", "Resource": [f"collection/{p.collection}"]}],
            "AllowFromPublic": p.allow_public}
    if p.vpc_endpoints:
        rule["SourceVPCEs"] = list(p.vpc_endpoints)
    return [rule]


def access_policy(p: CollectionParams) -> list[dict]:
    return [{"Rules": [{"ResourceType": "index", "Resource": [f"index/{p.collection}/*"],
                        "Permission": ["aoss:CreateIndex", "aoss:DescribeIndex", "aoss:ReadDocument",
                                       "aoss:WriteDocument", "aoss:UpdateIndex"]}],
             "Principal": list(p.data_access_principals)}]


def _check_reachable(p: CollectionParams, profile: EnvironmentProfile) -> None:
    if profile.require_reachable_collections and not p.allow_public and not p.vpc_endpoints:
        raise BadInput(f"collection {p.collection}: nothing could reach it (no vpc_endpoints, allow_public false)",
                       hint="add the orchestrator's OpenSearch Serverless VPC endpoint id to the step's vpc_endpoints")


@register_step
class OpenSearchCollection(StepKind):
    name = "opensearch_collection"
    Params = CollectionParams

    def plan(self, step, params, ctx) -> str:
        profile = ctx.services.environment()
        _check_reachable(params, profile)
        enc = encryption_policy(params, profile)
        key = "AWS-owned key" if enc.get("AWSOwnedKey") else (
            profile.default_kms_label if enc["KmsARN"] == profile.default_kms_arn else enc["KmsARN"])
        reach = ", ".join(params.vpc_endpoints) or ("public" if params.allow_public else "no network access")
        access = (f", data access for {len(params.data_access_principals)} principal(s)"
                  if params.data_access_principals else "")
        return (f"OpenSearch Serverless in {ctx.settings.region}: encryption policy {params.collection}-enc ({key}), "
                f"{params.type} collection {params.collection}, network policy {params.collection}-net ({reach})"
                f"{access}; wait until ACTIVE")

    def apply(self, step, params, ctx) -> dict:
        profile = ctx.services.environment()
        _check_reachable(params, profile)
        oss = ctx.services.opensearch_collections()
        p, changes = params, []
        if oss.get_security_policy(f"{p.collection}-enc", "encryption") is None:
            oss.create_security_policy(f"{p.collection}-enc", "encryption", encryption_policy(p, profile),
                                       "cato episodic memory: encryption at rest")
            changes.append("encryption policy")
        if oss.collection(p.collection) is None:
            oss.create_collection(p.collection, p.type, "cato episodic memory (vector search)")
            changes.append("collection")
        if oss.get_security_policy(f"{p.collection}-net", "network") is None:
            oss.create_security_policy(f"{p.collection}-net", "network", network_policy(p),
                                       "cato episodic memory: who may connect")
            changes.append("network policy")
        if p.data_access_principals and oss.get_access_policy(f"{p.collection}-access") is None:
            oss.create_access_policy(f"{p.collection}-access", access_policy(p), "cato orchestrator: index read/write")
            changes.append("data access policy")
        ctx.progress(f"waiting for collection {p.collection} to be ACTIVE")
        c = oss.wait_active(p.collection, p.timeout_s)
        return {"changes": changes, "collection_id": c.get("id"), "endpoint": c.get("collectionEndpoint")}

    def verify(self, step, params, ctx) -> Verification:
        oss = ctx.services.opensearch_collections()
        c = oss.collection(params.collection)
        issues = []
        if c is None:
            issues.append(f"collection {params.collection} does not exist")
        elif c.get("status") != "ACTIVE":
            issues.append(f"collection {params.collection} is {c.get('status')}")
        elif c.get("type") and c["type"] != params.type:
            issues.append(f"collection {params.collection} is {c['type']}, want {params.type}")
        for suffix, kind in (("enc", "encryption"), ("net", "network")):
            if oss.get_security_policy(f"{params.collection}-{suffix}", kind) is None:
                issues.append(f"{kind} policy {params.collection}-{suffix} is missing")
        evidence = {"collection": params.collection, "status": (c or {}).get("status", "MISSING"),
                    "id": (c or {}).get("id"), "endpoint": (c or {}).get("collectionEndpoint"),
                    "control_plane": ctx.services.environment().control_plane}
        return Verification(not issues, "; ".join(issues) or
                            f"collection {params.collection} ACTIVE at {evidence['endpoint']}", evidence)
