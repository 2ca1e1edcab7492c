"""Runbook weeks 4 and 12: an acceptance suite against the environment's orchestrator.

The runbook's `pytest tests/integration/test_*.py` becomes a suite the CLI runs through the
orchestrator's public API, so it works against staging as well as the sandbox; each case's
evidence goes to the journal.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel


class SuiteParams(CoreModel):
    suite: Literal["orchestration", "memory"] = Field(description="Which acceptance suite to run (cato_migrate/acceptance/).")


@register_step
class IntegrationTests(StepKind):
    name = "integration_tests"
    Params = SuiteParams
    mutating = False

    def __init__(self) -> None:
        self._result = None  # apply's run, which verify judges; a resumed step runs it afresh

    def plan(self, step, params, ctx) -> str:
        from cato_migrate.acceptance.suite import suite_cases

        names = ", ".join(c.__name__.removeprefix("case_") for c in suite_cases(params.suite))
        return f"run the {params.suite} acceptance suite against the orchestrator's API: {names}"

    def _run(self, params, ctx):
        from cato_migrate.acceptance import run_suite

        api = ctx.services.orchestrator_api()
        api.health()  # unreachable is an external failure (exit 4, with a hint), not N failed cases
        ctx.progress(f"running the {params.suite} acceptance suite")
        return run_suite(params.suite, api)

    def apply(self, step, params, ctx) -> dict:
        self._result = self._run(params, ctx)
        return self._result.evidence()

    def verify(self, step, params, ctx) -> Verification:
        result = self._result or self._run(params, ctx)
        ev = result.evidence()
        failed = {c["name"]: c["message"] for c in ev["cases"] if not c["ok"]}
        msg = result.summary() + "".join(f"\n  {n}: {m}" for n, m in failed.items())
        return Verification(result.ok, msg, {k: ev[k] for k in ("suite", "passed", "total", "failed")})
