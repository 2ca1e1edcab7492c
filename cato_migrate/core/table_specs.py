"""The DynamoDB tables the orchestrator and the state store use, as data (pure).

Names and key schemas mirror the code that reads and writes them:

    cato-semantic-memory  orchestrator/memory/semantic.py          domain (HASH), fact_id (RANGE)
    cato-working-memory   orchestrator/memory/dynamo_sessions.py   session_id (HASH), seq (RANGE); TTL expires_at
    cato-interactions     orchestrator/memory/interactions.py      interaction_id (HASH); TTL expires_at
    cato-migrate-state    cato_migrate/adapters/dynamodb_store.py  pk (HASH), sk (RANGE)

`TableSpec` is what we want; `TableStatus` is what DynamoDB says (desired vs observed).
Every spec asks for streams with NEW_AND_OLD_IMAGES: global tables (version 2019.11.21)
replicate through the stream and refuse any other view type.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cato_migrate.core.model import CoreModel, Record
from cato_migrate.errors import BadInput


class TableSpec(CoreModel):
    name: str = Field(description="Table name (the same in every region).")
    hash_key: str = Field(description="Partition key attribute (type S).")
    range_key: str | None = Field(default=None, description="Sort key attribute (type S), if any.")
    ttl_attribute: str | None = Field(default=None, description="Attribute DynamoDB TTL expires items by.")
    stream_view: Literal["NEW_AND_OLD_IMAGES"] = Field(
        default="NEW_AND_OLD_IMAGES", description="Stream view type; global tables need NEW_AND_OLD_IMAGES.")
    pitr: bool = Field(default=True, description="Point-in-time recovery on.")
    replicate: bool = Field(default=True, description="Create global-table replicas in the replica regions.")
    used_by: str = Field(default="", description="The code that reads and writes it.")

    def key_schema(self) -> list[dict[str, Any]]:
        keys = [{"AttributeName": self.hash_key, "KeyType": "HASH"}]
        if self.range_key:
            keys.append({"AttributeName": self.range_key, "KeyType": "RANGE"})
        return keys

    def attribute_definitions(self) -> list[dict[str, Any]]:
        return [{"AttributeName": k["AttributeName"], "AttributeType": "S"} for k in self.key_schema()]


class ReplicaStatus(Record):
    region: str = Field(description="Replica region.")
    status: str = Field(description="ReplicaStatus as DynamoDB reports it (CREATING, ACTIVE, ...), or MISSING.")


class TableStatus(Record):
    name: str = Field(description="Table name.")
    region: str = Field(description="Region it was described in.")
    status: str = Field(description="TableStatus (ACTIVE, CREATING, ...), or MISSING when it does not exist.")
    stream_view: str | None = Field(default=None, description="Stream view type when streams are on.")
    pitr: str | None = Field(default=None, description="PointInTimeRecoveryStatus, when it could be read.")
    ttl_attribute: str | None = Field(default=None, description="The TTL attribute, when TTL is enabled.")
    replicas: tuple[ReplicaStatus, ...] = Field(default=(), description="Replicas DescribeTable lists.")

    @property
    def exists(self) -> bool:
        return self.status != "MISSING"

    def replica(self, region: str) -> ReplicaStatus | None:
        return next((r for r in self.replicas if r.region == region), None)


KNOWN_TABLES: dict[str, TableSpec] = {t.name: t for t in [
    TableSpec(name="cato-semantic-memory", hash_key="domain", range_key="fact_id",
              used_by="orchestrator/memory/semantic.py (facts by domain)"),
    TableSpec(name="cato-working-memory", hash_key="session_id", range_key="seq", ttl_attribute="expires_at",
              used_by="orchestrator/memory/dynamo_sessions.py (durable session turns)"),
    TableSpec(name="cato-interactions", hash_key="interaction_id", ttl_attribute="expires_at",
              used_by="orchestrator/memory/interactions.py (interaction log)"),
    TableSpec(name="cato-migrate-state", hash_key="pk", range_key="sk", replicate=False,
              used_by="cato_migrate/adapters/dynamodb_store.py (journal, audit, lock; one region)"),
]}


def specs_for(names: list[str]) -> list[TableSpec]:
    """The specs for `names`; an unknown name is BadInput naming the known ones."""
    unknown = [n for n in names if n not in KNOWN_TABLES]
    if unknown:
        raise BadInput(f"unknown DynamoDB table(s): {', '.join(unknown)}",
                       hint=f"known tables: {', '.join(KNOWN_TABLES)} (cato_migrate/core/table_specs.py)")
    return [KNOWN_TABLES[n] for n in names]


def state_table_spec(name: str) -> TableSpec:
    """The state store's table under the name CATO_STATE_URL gives it."""
    return KNOWN_TABLES["cato-migrate-state"].model_copy(update={"name": name})


def replica_regions(primary: str, regions: list[str]) -> list[str]:
    """The configured replica regions other than the primary, in order, without duplicates."""
    out: list[str] = []
    for r in regions:
        if r != primary and r not in out:
            out.append(r)
    return out


def problems(spec: TableSpec, primary: TableStatus, replicas: list[str]) -> list[str]:
    """What keeps `spec` from being done, given the primary's observed status (empty: done)."""
    if not primary.exists:
        return [f"{spec.name} does not exist in {primary.region}"]
    out = []
    if primary.status != "ACTIVE":
        out.append(f"{spec.name} is {primary.status} in {primary.region}")
    if primary.stream_view != spec.stream_view:
        out.append(f"{spec.name}: stream is {primary.stream_view or 'off'}, want {spec.stream_view}")
    if spec.pitr and primary.pitr not in (None, "ENABLED"):  # None: this endpoint has no PITR API
        out.append(f"{spec.name}: point-in-time recovery is {primary.pitr}")
    if spec.ttl_attribute and primary.ttl_attribute != spec.ttl_attribute:
        out.append(f"{spec.name}: TTL is not enabled on {spec.ttl_attribute}")
    if spec.replicate:
        for region in replicas:
            r = primary.replica(region)
            if r is None or r.status != "ACTIVE":
                out.append(f"{spec.name}: replica in {region} is {r.status if r else 'MISSING'}")
    return out
