"""Exit criterion: semantic cache hit rate on paraphrases, measured through the orchestrator."""
from __future__ import annotations

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check


@register_check
class CacheHitRate(CheckKind):
    name = "cache_hit_rate"

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        from cato_migrate.core import probes

        r = probes.probe_cache(ctx.services.orchestrator_api())
        return CheckResult("pass" if r.ok else "fail", r.message, r.measured, r.evidence)
