"""Acceptance suites run against an environment's orchestrator through its public API.

One module per suite (`orchestration`, `memory`); each case is a small function taking the
`OrchestratorApi` port and returning a `ProbeResult` (pass/fail + evidence). `run_suite`
runs every case of a suite, so one broken case never hides the others.
"""
from __future__ import annotations

from cato_migrate.acceptance.suite import SUITES, SuiteResult, run_suite

__all__ = ["SUITES", "SuiteResult", "run_suite"]
