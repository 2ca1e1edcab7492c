"""Exit criterion "DynamoDB replicating across regions": an end-to-end probe.

A unique probe item is written in the primary region and read back (strongly consistent) in
every replica region until it appears; the slowest region's lag in ms is `measured`. Not seen
within the timeout: fail. The table not created yet: waiting. The probe item is deleted after
(the delete replicates too). On the sandbox the regions are moto's, joined by the sandbox
DynamoDB layer's wire-level replication; the evidence says so.
"""
from __future__ import annotations

import time
import uuid

from pydantic import Field

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check
from cato_migrate.core.model import CoreModel
from cato_migrate.core.table_specs import replica_regions


class ReplicationParams(CoreModel):
    table: str = Field(default="cato-semantic-memory", description="Global table to probe.")
    timeout_s: float = Field(default=30.0, gt=0, description="How long a replica may take to show the probe item.")
    poll_s: float = Field(default=0.02, gt=0, description="Interval between reads in a replica region.")


@register_check
class DynamoDbReplication(CheckKind):
    name = "dynamodb_replication"
    Params = ReplicationParams

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        s = ctx.settings
        tables = ctx.services.tables()
        regions = replica_regions(s.region, s.replica_regions)
        where = ctx.services.environment().replication_path or f"AWS DynamoDB {s.region} -> {', '.join(regions)}"
        base = {"table": params.table, "primary": s.region, "replicas": regions, "path": where}
        if not regions:
            return CheckResult("fail", f"no replica regions are configured besides {s.region}",
                               evidence={**base, "hint": "set replica_regions in cato-migrate.toml (CATO_REPLICA_REGIONS)"})
        status = tables.describe(params.table)
        if not status.exists:
            return CheckResult("waiting", f"table {params.table} does not exist in {s.region} yet "
                               "(created by week 9's dynamodb_tables step)", evidence=base)
        missing = [r for r in regions if status.replica(r) is None]
        if missing:
            return CheckResult("fail", f"{params.table} has no replica in {', '.join(missing)}",
                               evidence={**base, "listed": [r.region for r in status.replicas],
                                         "hint": "re-run week 9's dynamodb_tables step (`cato-migrate phase run 3`)"})
        return probe(tables, params, s.region, regions, ctx.clock.sleep, base)


def probe(tables, params: ReplicationParams, primary: str, regions: list[str], sleep, base: dict) -> CheckResult:
    nonce = f"cato-replication-probe-{uuid.uuid4().hex}"
    key = {name: {"S": nonce} for name in tables.key_names(params.table)}
    item = {**key, "probe": {"S": nonce}, "written_at": {"N": repr(time.time())}}
    lags: dict[str, float | None] = {}
    for region in regions:  # warm each region's client (and connection) so the lag is replication's alone
        tables.get_item(params.table, key, region)
    t0 = time.perf_counter()
    tables.put_item(params.table, item)
    try:
        deadline = time.monotonic() + params.timeout_s
        pending = list(regions)
        while pending:
            for region in list(pending):
                got = tables.get_item(params.table, key, region)
                if got is not None and got.get("probe", {}).get("S") == nonce:
                    lags[region] = round((time.perf_counter() - t0) * 1000, 1)
                    pending.remove(region)
            if pending and time.monotonic() >= deadline:
                break
            if pending:
                sleep(params.poll_s)
    finally:
        tables.delete_item(params.table, key)  # replicates as a delete
    evidence = {**base, "probe_key": nonce, "lag_ms": {r: lags.get(r) for r in regions}}
    late = [r for r in regions if r not in lags]
    if late:
        return CheckResult(
            "fail", f"probe written in {primary} not seen in {', '.join(late)} after {params.timeout_s:g}s: "
            "replication is stopped or far behind",
            evidence={**evidence, "hint": "look at ReplicationLatency and the replica status in the DynamoDB console "
                                          "(sandbox: GET <dynamodb layer>/admin/replication; resume if paused)"})
    worst = max(lags.values())
    return CheckResult("pass", f"probe written in {primary} read back in {', '.join(regions)}; "
                       f"lag {worst:g} ms (slowest region)", worst, evidence)
