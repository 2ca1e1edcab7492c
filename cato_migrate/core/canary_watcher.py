"""`canary watch`'s loop: read the flag and both stacks every interval, evaluate, decide.

The evaluation and the decision are pure (core/canary_watch.py); this module only reads the
ports (TrafficFlag, MetricsSource) on the injected clock and hands each interval to the caller.
Rolling back is the caller's (`on_rollback`): it takes the lock, which a watch that only
watches never holds.
"""
from __future__ import annotations

from typing import Any, Callable

from cato_migrate.core.canary_measure import read_stacks
from cato_migrate.core.canary_watch import Evaluation, StackReading, WatchState, evaluate, step
from cato_migrate.core.context import RunContext
from cato_migrate.core.runbook import CanaryAnalysisSpec
from cato_migrate.errors import CatoError
from cato_migrate.ports import MetricsSource


def flag_now(ctx: RunContext) -> dict[str, Any]:
    from cato_migrate.core.traffic import flag_status

    try:
        st = flag_status(ctx.services.traffic_flag())
    except CatoError as exc:
        return {"configured": None, "served": None, "deployment_state": None, "error": exc.message}
    return {"configured": st.configured_percentage, "served": st.served_percentage,
            "deployment_state": st.deployment_state, "error": ""}


def stack_figures(readings: dict[str, StackReading]) -> dict[str, dict[str, Any]]:
    """What the view shows per stack; `share` is the stack's part of the requests both served."""
    total = sum((r.window.requests or 0) for r in readings.values() if r.window is not None)
    out: dict[str, dict[str, Any]] = {}
    for stack, r in readings.items():
        w = r.window
        if w is None:
            out[stack] = {"error": r.error}
            continue
        out[stack] = {"requests": w.requests, "errors": w.errors, "error_rate": w.error_rate,
                      "p50_ms": w.p50_ms, "p99_ms": w.p99_ms, "cache_hit_rate": w.cache_hit_rate,
                      "complaints": w.complaints, "share": (w.requests or 0) / total if total else None,
                      "source": w.source, "error": ""}
    return out


def snapshot(ctx: RunContext, flag: dict[str, Any], readings: dict[str, StackReading], ev: Evaluation,
             state: WatchState, spec: CanaryAnalysisSpec | None = None) -> dict[str, Any]:
    """One interval as data: the JSON line, and what the live view draws."""
    spec = spec or ctx.runbook.meta.canary_analysis
    return {"at": ctx.clock.now(), "evaluation": state.evaluations, "env": ctx.env,
            "window_seconds": spec.window_seconds, "min_requests": spec.min_requests,
            "flag": flag, "stacks": stack_figures(readings),
            "triggers": [r.model_dump() for r in ev.readings], "verdict": ev.verdict,
            "breaches": state.breaches, "consecutive_breaches": spec.consecutive_breaches,
            "unmeasured_run": state.unmeasured_run, "unmeasured_policy": spec.unmeasured_policy,
            "decision": state.decision, "reason": state.reason}


def watch(ctx: RunContext, source: MetricsSource, *, interval: float, duration: float | None,
          on_interval: Callable[[dict[str, Any]], None], auto_rollback: bool = False,
          on_rollback: Callable[[dict[str, Any]], dict[str, Any]] | None = None, window: float | None = None) -> dict[str, Any]:
    """Evaluate now and every `interval` s until `duration` s have passed (None: until interrupted),
    or until a rollback is decided with `auto_rollback` (then `on_rollback(snapshot)` runs it).

    Returns the last snapshot, with `rolled_back` (the rollback's result) when one ran."""
    spec = ctx.runbook.meta.canary_analysis
    if window is not None:  # the operator's window for this watch; sample minimum and N stay the runbook's
        spec = spec.model_copy(update={"window_seconds": window})
    triggers = ctx.runbook.meta.rollback.triggers
    clock = ctx.clock
    deadline = None if duration is None else clock.now() + duration
    state = WatchState()
    while True:
        began = clock.now()
        flag = flag_now(ctx)
        readings = read_stacks(source, spec.window_seconds)
        ev = evaluate(triggers, readings, spec.min_requests)
        state = step(state, ev, spec)
        snap = snapshot(ctx, flag, readings, ev, state, spec)
        on_interval(snap)
        if state.decision == "rollback" and auto_rollback and on_rollback is not None:
            return {**snap, "rolled_back": on_rollback(snap)}
        now = clock.now()
        if deadline is not None and now >= deadline:
            return snap
        pause = interval - (now - began)
        if deadline is not None:
            pause = min(pause, deadline - now)
        clock.sleep(max(pause, 0.0))
