"""The runbook's rollback triggers (error rate > 1%, p99 > 2 s, complaints), measured now.

A trigger's threshold says when it FIRES. Raising traffic needs every monitored trigger
measured and clear: a trigger that cannot be measured right now blocks the raise just as a
fired one does (missing data is never "clear"). A trigger whose check kind is not implemented
(complaints: no ticket source yet) is reported as not monitored and does not block; the
operator sees it on every raise.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cato_migrate.core.context import RunContext
from cato_migrate.errors import CatoError


@dataclass(frozen=True)
class TriggerStatus:
    id: str
    title: str
    status: str  # clear | fired | unmeasured | not_monitored
    message: str
    measured: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def trigger_statuses(ctx: RunContext) -> list[TriggerStatus]:
    from cato_migrate.core.kinds import check_kind

    out = []
    for t in ctx.runbook.meta.rollback.triggers:
        kind = check_kind(t.check)
        if not kind.implemented:
            out.append(TriggerStatus(t.id, t.title, "not_monitored", kind.planned_for))
            continue
        try:
            res = kind.evaluate(t, kind.Params.model_validate(t.params), ctx)
        except CatoError as exc:
            out.append(TriggerStatus(t.id, t.title, "unmeasured", f"could not measure: {exc.message}"))
            continue
        if res.measured is None or t.threshold is None or res.status in ("waiting", "not_implemented"):
            out.append(TriggerStatus(t.id, t.title, "unmeasured", res.message))
            continue
        fired = t.threshold.passes(res.measured)
        out.append(TriggerStatus(t.id, t.title, "fired" if fired else "clear",
                                 f"{res.measured:g} {'meets' if fired else 'is clear of'} {t.threshold.describe()}",
                                 res.measured))
    return out


def trigger_problems(ctx: RunContext) -> tuple[list[str], list[TriggerStatus]]:
    """Why the triggers forbid raising traffic now (empty: allowed), and what was measured."""
    statuses = trigger_statuses(ctx)
    problems = [f"rollback trigger '{s.title}' {'fired' if s.status == 'fired' else 'could not be measured'}: {s.message}"
                for s in statuses if s.status in ("fired", "unmeasured")]
    return problems, statuses
