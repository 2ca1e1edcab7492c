"""Week 9: the DynamoDB tables, with streams, PITR, TTL and global-table replicas.

Idempotent: each table is created only when missing, each setting changed only when it differs,
each replica added only when DescribeTable does not list it. verify() re-reads everything:
every table ACTIVE in the primary region with every configured replica ACTIVE.
"""
from __future__ import annotations

from pydantic import Field

from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel
from cato_migrate.core.table_specs import (TableSpec, TableStatus, problems, replica_regions, specs_for,
                                           state_table_spec)


class TablesParams(CoreModel):
    tables: list[str] = Field(min_length=1, description="Tables to create, by name (see core/table_specs.py).")
    state_store: bool = Field(default=True, description="Also create the state store's table when CATO_STATE_URL "
                                                        "names a DynamoDB table (single region, no replicas).")
    timeout_s: float = Field(default=900.0, gt=0, description="How long to wait for tables and replicas to be ACTIVE.")


def wanted(params: TablesParams, settings) -> list[TableSpec]:
    specs = specs_for(params.tables)
    loc = settings.state_location
    if params.state_store and loc.startswith("dynamodb://"):
        name = loc.removeprefix("dynamodb://").split("?", 1)[0]
        if name not in {s.name for s in specs}:
            specs.append(state_table_spec(name))
    return specs


def _replicas(spec: TableSpec, settings) -> list[str]:
    return replica_regions(settings.region, settings.replica_regions) if spec.replicate else []


@register_step
class DynamoDbTables(StepKind):
    name = "dynamodb_tables"
    Params = TablesParams

    def plan(self, step, params, ctx) -> str:
        s = ctx.settings
        lines = []
        for spec in wanted(params, s):
            keys = spec.hash_key + (f" + {spec.range_key}" if spec.range_key else "")
            extras = ["stream NEW_AND_OLD_IMAGES", "PITR" if spec.pitr else "",
                      f"TTL on {spec.ttl_attribute}" if spec.ttl_attribute else ""]
            reps = _replicas(spec, s)
            lines.append(f"{spec.name} ({keys}; {', '.join(e for e in extras if e)}) in {s.region}"
                         + (f", replicas in {', '.join(reps)}" if reps else ", no replicas"))
        return "create if missing, then wait until ACTIVE: " + "; ".join(lines)

    def apply(self, step, params, ctx) -> dict:
        tables = ctx.services.tables()
        done: dict[str, list[str]] = {}
        for spec in wanted(params, ctx.settings):
            done[spec.name] = ensure_table(tables, spec, _replicas(spec, ctx.settings), params.timeout_s, ctx.progress)
        return {"changes": done}

    def verify(self, step, params, ctx) -> Verification:
        tables = ctx.services.tables()
        found, issues = {}, []
        for spec in wanted(params, ctx.settings):
            reps = _replicas(spec, ctx.settings)
            st = tables.describe(spec.name)
            issues += problems(spec, st, reps)
            for region in reps if st.exists else []:
                rst = tables.describe(spec.name, region)  # the replica itself, read in its own region
                if rst.status != "ACTIVE":
                    issues.append(f"{spec.name} is {rst.status} in replica region {region}")
            found[spec.name] = {"status": st.status, "stream": st.stream_view, "pitr": st.pitr,
                                "ttl": st.ttl_attribute, "replicas": {r.region: r.status for r in st.replicas}}
        ok = not issues
        msg = (f"{len(found)} table(s) ACTIVE in {ctx.settings.region} with their replicas ACTIVE"
               if ok else "; ".join(issues))
        return Verification(ok, msg, {"tables": found, "region": ctx.settings.region})


def ensure_table(tables, spec: TableSpec, replicas: list[str], timeout_s: float, progress=lambda m: None) -> list[str]:
    """Make `spec` true in the primary region and each replica region; returns what changed."""
    changes: list[str] = []
    if tables.create(spec):
        changes.append("created")
        progress(f"created {spec.name}; waiting for ACTIVE")
    st = tables.wait(spec.name, lambda t: t.status == "ACTIVE", timeout_s)
    if st.stream_view != spec.stream_view:
        tables.enable_stream(spec)
        changes.append("stream enabled")
    if spec.pitr and st.pitr not in (None, "ENABLED"):
        tables.enable_pitr(spec.name)
        changes.append("PITR enabled")
    if spec.ttl_attribute and st.ttl_attribute != spec.ttl_attribute:
        tables.enable_ttl(spec.name, spec.ttl_attribute)
        changes.append(f"TTL on {spec.ttl_attribute}")
    for region in replicas:
        if st.replica(region) is None:
            progress(f"adding a replica of {spec.name} in {region}")
            tables.add_replica(spec.name, region)  # one at a time: DynamoDB refuses concurrent replica updates
            changes.append(f"replica {region}")
            st = tables.wait(spec.name, lambda t, r=region: _replica_active(t, r), timeout_s,
                             what=f"replicated to {region}")
    for region in replicas:  # PITR and TTL are per replica, not replicated settings
        rst = tables.wait(spec.name, lambda t: t.status == "ACTIVE", timeout_s, region=region)
        if spec.pitr and rst.pitr not in (None, "ENABLED"):
            tables.enable_pitr(spec.name, region)
            changes.append(f"PITR enabled in {region}")
        if spec.ttl_attribute and rst.ttl_attribute != spec.ttl_attribute:
            tables.enable_ttl(spec.name, spec.ttl_attribute, region)
            changes.append(f"TTL on {spec.ttl_attribute} in {region}")
    return changes


def _replica_active(st: TableStatus, region: str) -> bool:
    r = st.replica(region)
    return st.status == "ACTIVE" and r is not None and r.status == "ACTIVE"
