"""`cost measure` and `cost status` as core functions: the stacks and the spend reader are injected.

    measure        the mix, sent to the legacy stack and then to the new one (in order: the repeats
                   must follow what they repeat), priced, journaled as `cost.comparison`
    budget_status  today's spend against the budget, journaled as a `cost.budget` check; an
                   `exceeded` check is what the notifier turns into `budget.exceeded`
"""
from __future__ import annotations

from typing import Any, Callable

from orchestrator.pricing import PriceTable

from cato_migrate.core.context import RunContext
from cato_migrate.core.cost import BUDGET_KEY, COMPARISON_KEY, Answer, BudgetVerdict, comparison, comparison_message, judge_budget
from cato_migrate.core.cost_mix import build_mix, describe
from cato_migrate.errors import CatoError
from cato_migrate.backend_ports import ChatStack


def measure(ctx: RunContext, legacy: ChatStack, new: ChatStack, table: PriceTable, requests: int,
            *, progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Both stacks answer the same `requests` of the mix; the comparison is journaled and returned.
    A stack that fails raises (ExternalError) before anything is journaled."""
    run = int(ctx.clock.now())  # tags this run's prompts: an earlier run's cached answers must not count
    reqs = build_mix(requests, run)
    answers: dict[str, list[Answer]] = {"legacy": [], "new": []}
    for name, stack in (("legacy", legacy), ("new", new)):
        for r in reqs:
            answers[name].append(stack.send(r))
        progress(f"{name}: {len(reqs)} requests answered")
    evidence = comparison(measured_at=ctx.clock.now(), requests=requests, mix=describe(requests, run), table=table,
                          legacy=answers["legacy"], new=answers["new"])
    status = "measured" if evidence["efficiency"] is not None else "unmeasured"
    ctx.journal(COMPARISON_KEY, "check", status=status, evidence=evidence, inputs={"requests": requests},
                message=comparison_message(evidence))
    return evidence


def budget_status(ctx: RunContext, read_spend: Callable[[], tuple[float | None, str, str]],
                  budget_usd: float | None, *, journal: bool = True) -> BudgetVerdict:
    """`read_spend()` -> (USD today or None, source, why not); an error reading it is `unmeasured`."""
    try:
        spend, source, why = read_spend()
    except CatoError as exc:
        spend, source, why = None, "-", exc.message
    verdict = judge_budget(spend, budget_usd, source, why)
    if journal:
        ctx.journal(BUDGET_KEY, "check", status=verdict.status, evidence=verdict.to_dict(), message=verdict.message)
    return verdict
