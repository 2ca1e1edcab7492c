"""Running a suite: every case, each failure recorded with what was seen, none fatal."""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cato_migrate.core.probes import ProbeResult

Case = Callable[[Any], ProbeResult]


def nonce() -> str:
    """Unique words keep one run from being answered by an earlier run's cache or session."""
    return uuid.uuid4().hex[:8]


@dataclass
class SuiteResult:
    suite: str
    cases: list[ProbeResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.cases) and all(c.ok for c in self.cases)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.cases if not c.ok]

    def summary(self) -> str:
        passed = len(self.cases) - len(self.failed)
        tail = f"; failed: {', '.join(self.failed)}" if self.failed else ""
        return f"{self.suite} suite: {passed}/{len(self.cases)} cases passed in {self.seconds:.1f}s{tail}"

    def evidence(self) -> dict:
        return {"suite": self.suite, "passed": len(self.cases) - len(self.failed), "total": len(self.cases),
                "failed": self.failed, "seconds": round(self.seconds, 2),
                "cases": [{"name": c.name, "ok": c.ok, "message": c.message, "evidence": c.evidence}
                          for c in self.cases]}


def suite_cases(name: str) -> list[Case]:
    from cato_migrate.acceptance import memory, orchestration

    return {"orchestration": orchestration.CASES, "memory": memory.CASES}[name]


SUITES = ("orchestration", "memory")


def run_suite(name: str, api, *, clock: Callable[[], float] = time.perf_counter) -> SuiteResult:
    cases = suite_cases(name)
    result = SuiteResult(name)
    t0 = clock()
    for case in cases:
        case_name = case.__name__.removeprefix("case_")
        try:
            r = case(api)
        except Exception as exc:  # a case that cannot even run has failed; record why, go on
            r = ProbeResult(case_name, False, f"{type(exc).__name__}: {getattr(exc, 'message', exc)}")
        r.name = case_name
        result.cases.append(r)
    result.seconds = clock() - t0
    return result
