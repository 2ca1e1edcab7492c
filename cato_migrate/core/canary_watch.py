"""The runbook's rollback triggers, evaluated per stack on one window, and the decision across windows.

Pure: the caller reads the windows (`MetricsSource.window`) and hands them in; nothing here does I/O.

Per stack and trigger a state: `clear`, `fired`, `waiting` (fewer than the minimum sample of
requests in the window) or `unmeasured` (the source could not be read, or the figure is None).
Neither `waiting` nor `unmeasured` is ever `clear`.

One evaluation's verdict looks at the NEW stack only: `breach` (a trigger fired), else
`unmeasured`, else `waiting`, else `healthy`. Legacy's states are shown, never acted on: the
canary cannot fix LiteLLM, and rolling back would move users onto the breaching stack.

Across evaluations (`step`): a new-stack trigger that fired in N consecutive evaluations decides
`rollback`. Only a `clear` evaluation resets the count: a `waiting` or `unmeasured` one in between
neither counts nor forgives, so a flapping source cannot hide a breach. Unmeasured evaluations
follow the runbook's policy: `hold` (never a rollback, never clear) or `rollback` after N in a row.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cato_migrate.core.model import Record
from cato_migrate.core.runbook import CanaryAnalysisSpec, RollbackTrigger
from cato_migrate.ports import STACK_NAMES, StackWindow

TriggerState = Literal["clear", "fired", "waiting", "unmeasured"]
Verdict = Literal["healthy", "breach", "waiting", "unmeasured"]
NOT_CLEAR = ("waiting", "unmeasured")


class TriggerReading(Record):
    trigger: str = Field(description="Trigger id from the runbook.")
    title: str = Field(description="The runbook's wording.")
    stack: Literal["legacy", "new"] = Field(description="Stack it was evaluated on.")
    state: TriggerState = Field(description="clear | fired | waiting | unmeasured.")
    measured: float | None = Field(default=None, description="The figure compared with the threshold, in its unit.")
    message: str = Field(description="One line: the figure against the threshold, or why there is none.")


class StackReading(Record):
    """One stack's window as read, or why it could not be read."""

    stack: Literal["legacy", "new"] = Field(description="Which stack.")
    window: StackWindow | None = Field(default=None, description="The figures; None when the source failed.")
    error: str = Field(default="", description="Why the source could not be read ('' when it was).")


class Evaluation(Record):
    verdict: Verdict = Field(description="healthy | breach | waiting | unmeasured (the new stack decides).")
    readings: list[TriggerReading] = Field(description="Every trigger on every stack.")
    fired_on_new: list[str] = Field(default_factory=list, description="Ids of triggers that fired on the new stack.")

    def on(self, stack: str) -> list[TriggerReading]:
        return [r for r in self.readings if r.stack == stack]


class WatchState(Record):
    """What carries from one evaluation to the next."""

    evaluations: int = Field(default=0, description="Evaluations so far.")
    breaches: dict[str, int] = Field(default_factory=dict, description="Per new-stack trigger: consecutive fired "
                                                                        "evaluations with no clear one between.")
    unmeasured_run: int = Field(default=0, description="Consecutive unmeasured evaluations.")
    decision: Literal["continue", "rollback"] = Field(default="continue", description="What the watch should do now.")
    reason: str = Field(default="", description="Why a rollback was decided: the trigger, the figures, the count.")


def _figure(trigger: RollbackTrigger, w: StackWindow) -> tuple[float | None, str]:
    """The trigger's figure on a window, in the threshold's unit, or None and why."""
    if trigger.check == "error_rate":
        return w.error_rate, "no error count"
    if trigger.check == "latency_p99":
        return w.p99_ms, "no latency histogram"
    if trigger.check == "complaints":
        if w.complaints is None:
            return None, "no complaints counter"
        if w.requests is None:  # evaluate_trigger never asks without a request count
            return None, "no request count"
        return 1000.0 * w.complaints / w.requests, ""
    return None, f"no per-stack figure for check kind {trigger.check!r}"


def _fmt(trigger: RollbackTrigger, value: float) -> str:
    if trigger.check == "error_rate":
        return f"{value:.2%}"
    if trigger.check == "latency_p99":
        return f"{value:.0f} ms"
    return f"{value:.2f}/1k requests"


def evaluate_trigger(trigger: RollbackTrigger, reading: StackReading, min_requests: int,
                     legacy: StackReading | None = None) -> TriggerReading:
    base: dict[str, Any] = {"trigger": trigger.id, "title": trigger.title, "stack": reading.stack}
    w = reading.window
    if w is None:
        return TriggerReading(**base, state="unmeasured", message=f"metrics could not be read: {reading.error}")
    if w.requests is None:
        return TriggerReading(**base, state="unmeasured", message="no request count from the metrics source")
    if w.requests < min_requests:
        return TriggerReading(**base, state="waiting",
                              message=f"{w.requests} request(s) in {w.window_seconds:g}s, fewer than {min_requests}")
    if trigger.threshold is None:
        return TriggerReading(**base, state="unmeasured", message="the runbook gives this trigger no threshold")
    value, why = _figure(trigger, w)
    if value is None:
        return TriggerReading(**base, state="unmeasured", message=why)
    fired = trigger.threshold.passes(value)
    note = ""
    if fired and trigger.check == "complaints" and legacy is not None:
        # a spike is relative: complaints that legacy gets just as often are not the new stack's doing
        lw = legacy.window
        if lw is not None and lw.requests and lw.requests >= min_requests and lw.complaints is not None:
            legacy_rate = 1000.0 * lw.complaints / lw.requests
            fired = value > legacy_rate
            note = f" (legacy {legacy_rate:.2f}/1k)"
    verb = "fires:" if fired else "clear of"
    return TriggerReading(**base, state="fired" if fired else "clear", measured=value,
                          message=f"{_fmt(trigger, value)} over {w.requests} requests {verb} "
                                  f"{trigger.threshold.describe()}{note}")


def evaluate(triggers: list[RollbackTrigger], readings: dict[str, StackReading], min_requests: int) -> Evaluation:
    """Every trigger on every stack for one window, and the new stack's verdict."""
    out: list[TriggerReading] = []
    for stack in STACK_NAMES:
        reading = readings.get(stack) or StackReading(stack=stack, error="not read")
        for t in triggers:
            out.append(evaluate_trigger(t, reading, min_requests,
                                        legacy=readings.get("legacy") if stack == "new" else None))
    new = [r for r in out if r.stack == "new"]
    fired = [r.trigger for r in new if r.state == "fired"]
    states = {r.state for r in new}
    verdict: Verdict = ("breach" if fired else "unmeasured" if "unmeasured" in states
                        else "waiting" if "waiting" in states else "healthy")
    return Evaluation(verdict=verdict, readings=out, fired_on_new=fired)


def step(state: WatchState, ev: Evaluation, spec: CanaryAnalysisSpec) -> WatchState:
    """The watch's state after one more evaluation; `decision` says whether to roll back now."""
    if state.decision == "rollback":
        return state  # decided: later evaluations do not undo it
    breaches = dict(state.breaches)
    for r in ev.on("new"):
        if r.state == "fired":
            breaches[r.trigger] = breaches.get(r.trigger, 0) + 1
        elif r.state == "clear":
            breaches[r.trigger] = 0
        # waiting / unmeasured: neither a breach nor evidence of health; the count stands
    unmeasured_run = state.unmeasured_run + 1 if ev.verdict == "unmeasured" else 0
    decision: Literal["continue", "rollback"] = "continue"
    reason = ""
    n = spec.consecutive_breaches
    due = [t for t, c in breaches.items() if c >= n]
    if due:
        first = next(r for r in ev.on("new") if r.trigger == due[0])
        decision = "rollback"
        reason = (f"rollback trigger '{first.title}' fired on the new stack in {breaches[due[0]]} consecutive "
                  f"evaluations (N={n}): {first.message}")
    elif spec.unmeasured_policy == "rollback" and unmeasured_run >= spec.unmeasured_intervals:
        why = next((r.message for r in ev.on("new") if r.state == "unmeasured"), "")
        decision = "rollback"
        reason = (f"the new stack's metrics were unmeasured in {unmeasured_run} consecutive evaluations "
                  f"(policy: rollback after {spec.unmeasured_intervals}): {why}")
    return WatchState(evaluations=state.evaluations + 1, breaches=breaches, unmeasured_run=unmeasured_run,
                      decision=decision, reason=reason)
