"""Reading both stacks through the MetricsSource port, and the journaled analysis.

The one place `canary watch`, `canary analyze` and the promotion gate read metrics: a source
that fails for a stack becomes that stack's `error` (unmeasured downstream), never a zero.
"""
from __future__ import annotations

from typing import Any

from cato_migrate.core.canary_analysis import ANALYSIS_KEY, AnalysisResult, analyze
from cato_migrate.core.canary_watch import StackReading
from cato_migrate.core.context import RunContext
from cato_migrate.core.state import JournalEntry
from cato_migrate.errors import BadInput, CatoError
from cato_migrate.ports import STACK_NAMES, MetricsSource

NO_SOURCE_HINT = ("configure a metrics source for this environment: a Prometheus that scrapes the gateway "
                  "(prometheus_url in cato-migrate.toml, or CATO_PROMETHEUS_URL), or the gateway itself "
                  "(gateway_url, or CATO_GATEWAY_URL); on the sandbox run `cato-migrate sandbox up`")


def require_source(ctx: RunContext) -> MetricsSource:
    """The environment's metrics source, or BadInput saying how to configure one."""
    source = ctx.services.metrics_source()
    if source is None:
        raise BadInput(f"no metrics source is configured for {ctx.env}: the canary cannot be measured",
                       hint=NO_SOURCE_HINT)
    return source


def read_stacks(source: MetricsSource, seconds: float) -> dict[str, StackReading]:
    out: dict[str, StackReading] = {}
    for stack in STACK_NAMES:
        try:
            out[stack] = StackReading(stack=stack, window=source.window(stack, seconds))
        except CatoError as exc:
            out[stack] = StackReading(stack=stack, error=exc.message)
    return out


def run_analysis(ctx: RunContext, source: MetricsSource, *, journal: bool = True) -> tuple[AnalysisResult, dict[str, Any]]:
    """Analyse the last `analysis.window_seconds` now; journaled as a `canary.analysis` check."""
    spec = ctx.runbook.meta.canary_analysis.analysis
    readings = read_stacks(source, spec.window_seconds)
    errors = "; ".join(f"{r.stack}: {r.error}" for r in readings.values() if r.error)
    result = analyze(readings["new"].window, readings["legacy"].window, spec, unreadable=errors)
    evidence = {"analysis": result.model_dump(), "source": source.describe(),
                "stacks": {k: (r.window.model_dump() if r.window else {"error": r.error}) for k, r in readings.items()}}
    if journal:
        ctx.journal(ANALYSIS_KEY, "check", status=result.verdict, evidence=evidence, message=result.message)
    return result, evidence


def latest_analysis(entries: list[JournalEntry]) -> JournalEntry | None:
    return next((e for e in reversed(entries) if e.key == ANALYSIS_KEY and e.event == "check"), None)
