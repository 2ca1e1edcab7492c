"""Exit criterion "Sub-ms reads via DAX": semantic-memory point reads timed where they happen.

The orchestrator times `n` GetItem reads of a probe fact through its read path, inside its own
process (`POST /admin/memory/read-latency`), and reports p50/p99 and which path it was:

* "dax": the amazon-dax-client in front of the DAX cluster (production, `reads.dax_endpoint`);
* "item-cache": the local path, an in-process item cache with DAX's item-cache semantics in
  front of moto DynamoDB. It is NOT DAX, and the evidence says so;
* "dynamodb": every read goes to DynamoDB (no cache): the planted fault on the sandbox.

`measured` is the p99 in ms (the runbook threshold, < 1 ms, is applied to it). Outside the
sandbox (the environment profile's `dax_required`) a path other than DAX leaves the criterion
waiting: the figure would not be DAX's.
"""
from __future__ import annotations

from pydantic import Field

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check
from cato_migrate.core.model import CoreModel


class DaxParams(CoreModel):
    reads: int = Field(default=200, ge=10, le=100_000, description="Warm point reads to time.")
    max_p99_ms: float = Field(default=1.0, gt=0, description="p99 a pass needs when the runbook gives no threshold.")


@register_check
class DaxReadLatency(CheckKind):
    name = "dax_read_latency"
    Params = DaxParams

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        from cato_migrate.core.memory_probes import probe_read_latency

        r = probe_read_latency(ctx.services.orchestrator_api(), params.reads)
        path = r.evidence["path"]
        if ctx.services.environment().dax_required and path != "dax":
            return CheckResult("waiting", f"the orchestrator reads semantic memory via {path}, not DAX: set "
                               "reads.dax_endpoint in its config (and install amazon-dax-client); " + r.message,
                               None, r.evidence)
        ok = r.measured < params.max_p99_ms
        return CheckResult("pass" if ok else "fail", r.message + ("" if ok else
                           f"; p99 is not under {params.max_p99_ms:g} ms"), r.measured, r.evidence)
