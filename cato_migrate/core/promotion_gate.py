"""The promotion gate: what must hold before `canary set` raises traffic (runbook `canary_analysis`).

From 0% (the first raise, and the first after a rollback): the week-13 on-call attestation is
signed. The new stack serves no users at 0%, so there is nothing to compare with legacy yet; the
rollback triggers measured on fresh requests (core/triggers.py) guard that raise.

From a canary stage (served > 0%):
  (a) the stage has served for its minimum soak (strategy minutes; a sandbox minute lasts
      `sandbox_minute_seconds`), counted from the journal's record of the deployment that made
      it the served value; no such record means the soak is unknown, which refuses;
  (b) an analysis run NOW passes (journaled): a pass from hours ago says nothing about the last
      hour, and a breach must never be ignored while waiting at a gate. `waiting` (too little
      traffic), `unmeasured` and `marginal` refuse, as `fail` does.

The caller (core/traffic.py) refuses with every problem listed, unless `--force --reason`, which it
audits as `guardrail.override` with these problems. Forced, the analysis is not run.
"""
from __future__ import annotations

from typing import Any

from cato_migrate.core.context import RunContext
from cato_migrate.core.progress import attestation
from cato_migrate.core.state import JournalEntry
from cato_migrate.core.traffic import TRAFFIC_KEY


def minute_seconds(ctx: RunContext) -> float:
    """Real seconds per strategy minute: the sandbox compresses them as its AppConfig does."""
    return float(ctx.services.environment().minute_seconds)


def stage_since(entries: list[JournalEntry], served: int) -> float | None:
    """When `served`% became what clients get: the start of the journal's last unbroken run of traffic
    outcomes reading `served` (a failed raise that left it serving counts as the same run)."""
    since = None
    for e in entries:
        if e.key != TRAFFIC_KEY or e.event not in ("finished", "failed"):
            continue
        value = e.evidence.get("served_percentage")
        if value is None:
            continue
        if value == served:
            since = e.at if since is None else since
        else:
            since = None
    return since


def soak_problem(ctx: RunContext, current: int, entries: list[JournalEntry]) -> tuple[str | None, dict[str, Any]]:
    spec = ctx.runbook.meta.canary_analysis
    minutes = spec.min_soak_minutes.get(current, 0.0)
    need_s = minutes * minute_seconds(ctx)
    since = stage_since(entries, current)
    info = {"stage": current, "min_soak_minutes": minutes, "min_soak_seconds": need_s, "since": since}
    if since is None:
        return (f"the soak at {current}% cannot be measured: the journal has no record of the deployment that "
                f"made {current}% the served value (was the flag moved outside cato-migrate?)"), info
    soaked = ctx.clock.now() - since
    info["soaked_seconds"] = round(soaked, 3)
    if soaked < need_s:
        return (f"{current}% has soaked {soaked / need_s * minutes:.1f} of its minimum {minutes:g} strategy "
                f"minutes ({soaked:.0f}s of {need_s:.0f}s; ready in {need_s - soaked:.0f}s)"), info
    return None, info


def gate_problems(ctx: RunContext, current: int, *, measure: bool = True, journal: bool = True) -> tuple[list[str], dict[str, Any]]:
    """Why the gate refuses a raise from `current`% now (empty: allowed), and what it read.

    `measure` False (forced, or something cheaper already refuses): the analysis is not run.
    `journal` False (dry run): an analysis is run but not journaled."""
    spec = ctx.runbook.meta.canary_analysis
    entries = ctx.store.journal(ctx.env)
    problems: list[str] = []
    evidence: dict[str, Any] = {"from": current}
    if current == 0:
        signed = attestation(entries, spec.first_raise_attestation)
        evidence["attestation"] = {"step": spec.first_raise_attestation,
                                   "by": signed.evidence.get("by") if signed else None,
                                   "at": signed.at if signed else None}
        if signed is None:
            problems.append(f"the first raise needs the on-call sign-off {spec.first_raise_attestation} "
                            f"(run `cato-migrate attest {spec.first_raise_attestation} --by NAME`)")
        return problems, evidence
    soak, evidence["soak"] = soak_problem(ctx, current, entries)
    if soak:
        problems.append(soak)
    if not measure or problems:
        evidence["analysis"] = None  # cheaper refusals first; forced raises are not analysed
        return problems, evidence
    from cato_migrate.core.canary_measure import require_source, run_analysis
    from cato_migrate.errors import CatoError

    try:
        result, _ = run_analysis(ctx, require_source(ctx), journal=journal)
    except CatoError as exc:
        evidence["analysis"] = {"verdict": "unmeasured", "message": exc.message}
        problems.append(f"the canary analysis could not run: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
        return problems, evidence
    evidence["analysis"] = {"verdict": result.verdict, "message": result.message}
    if result.verdict != "pass":
        problems.append(f"the canary analysis is {result.verdict}, not pass: {result.message} "
                        "(see `cato-migrate canary analyze`)")
    return problems, evidence
