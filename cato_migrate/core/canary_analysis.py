"""`canary analyze`: the new stack against legacy over the same window. Pure; math only.

Latency: a Mann-Whitney U test on the binned latencies. Each histogram bin is one tie group
(every request in it has the same rank), so U and its variance come straight from the per-bin
counts: U_new = sum_i new_i * (legacy below bin i + legacy_i / 2), and the normal approximation
with the tie correction  var = n m / 12 * ((N + 1) - sum(t^3 - t) / (N (N - 1)))  and a
continuity correction of 1/2 (as scipy.stats.mannwhitneyu does by default). The effect size is the
common-language effect size A = U_new / (n m) = P(new slower) + P(tie) / 2 (0.5: no difference;
Vargha and Delaney's 0.56 / 0.64 / 0.71 for small / medium / large), with the rank-biserial
correlation r = 2A - 1 and the p99 difference beside it.

Errors: a two-proportion z-test with the pooled proportion; the effect is the difference in rates.

Only a slower or more error-prone NEW stack counts against it. A metric with fewer requests than
its minimum on either stack is `waiting`; a missing figure is `unmeasured`. The verdict: any
metric `fail` -> fail; else any waiting/unmeasured -> that (never pass); else any marginal ->
marginal; else pass.
"""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from cato_migrate.core.model import Record
from cato_migrate.core.runbook import AnalysisSpec
from cato_migrate.ports import StackWindow

MetricVerdict = Literal["pass", "marginal", "fail", "waiting", "unmeasured"]
ANALYSIS_KEY = "canary.analysis"


class MannWhitney(Record):
    u: float = Field(description="U statistic of the new stack (pairs where new is slower, ties half).")
    z: float = Field(description="Normal approximation, tie- and continuity-corrected.")
    p_value: float = Field(description="Two-sided p-value.")
    effect: float = Field(description="Common-language effect size A = U / (n m): P(new slower) + P(tie)/2.")
    rank_biserial: float = Field(description="Rank-biserial correlation 2A - 1 (positive: new slower).")


class TwoProportions(Record):
    z: float = Field(description="z statistic (new minus legacy), pooled standard error.")
    p_value: float = Field(description="Two-sided p-value.")
    difference: float = Field(description="New error rate minus legacy error rate.")


class MetricComparison(Record):
    metric: Literal["latency", "error_rate"] = Field(description="What was compared.")
    verdict: MetricVerdict = Field(description="pass | marginal | fail | waiting | unmeasured.")
    n_new: int | None = Field(default=None, description="Samples from the new stack.")
    n_legacy: int | None = Field(default=None, description="Samples from legacy.")
    p_value: float | None = Field(default=None, description="Two-sided p-value of the test.")
    effect: float | None = Field(default=None, description="Latency: A; error rate: new minus legacy rate.")
    detail: dict[str, float | None] = Field(default_factory=dict, description="The test's other figures.")
    message: str = Field(description="One line for people.")


class AnalysisResult(Record):
    verdict: MetricVerdict = Field(description="pass | marginal | fail | waiting | unmeasured.")
    window_seconds: float = Field(description="The window both stacks were read over.")
    metrics: list[MetricComparison] = Field(description="Latency and error-rate comparisons.")
    message: str = Field(description="One line for people.")


def _normal_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def bin_counts(cumulative: list[tuple[float, int]]) -> tuple[list[float], list[int]]:
    """Cumulative (upper bound, count) pairs -> (bounds, per-bin counts). ValueError when not cumulative."""
    bounds, counts, prev_b, prev_c = [], [], -math.inf, 0
    for b, c in cumulative:
        if b <= prev_b:
            raise ValueError(f"bucket bounds must rise, got {b} after {prev_b}")
        if c < prev_c:
            raise ValueError(f"cumulative counts must not fall, got {c} after {prev_c} at le={b}")
        bounds.append(b)
        counts.append(c - prev_c)
        prev_b, prev_c = b, c
    return bounds, counts


def mann_whitney_binned(new: list[int], legacy: list[int]) -> MannWhitney:
    """U test of two samples given as counts over the same ordered bins (each bin a tie group)."""
    n, m = sum(new), sum(legacy)
    if n == 0 or m == 0:
        raise ValueError("both samples need at least one observation")
    u, below = 0.0, 0
    for a, b in zip(new, legacy):
        u += a * (below + b / 2.0)
        below += b
    big_n = n + m
    ties = sum((a + b) ** 3 - (a + b) for a, b in zip(new, legacy))
    var = n * m / 12.0 * ((big_n + 1) - ties / (big_n * (big_n - 1)))
    mu = n * m / 2.0
    if var <= 0:  # every request in one bin: no difference can be seen
        z = 0.0
    else:
        z = math.copysign(max(abs(u - mu) - 0.5, 0.0), u - mu) / math.sqrt(var)
    effect = u / (n * m)
    return MannWhitney(u=u, z=z, p_value=_normal_p(z), effect=effect, rank_biserial=2 * effect - 1)


def two_proportions(x_new: int, n_new: int, x_legacy: int, n_legacy: int) -> TwoProportions:
    """Pooled two-proportion z-test of x_new/n_new against x_legacy/n_legacy."""
    p1, p2 = x_new / n_new, x_legacy / n_legacy
    pooled = (x_new + x_legacy) / (n_new + n_legacy)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_new + 1 / n_legacy))
    z = 0.0 if se == 0 else (p1 - p2) / se  # no errors anywhere (or all): nothing differs
    return TwoProportions(z=z, p_value=_normal_p(z), difference=p1 - p2)


def compare_latency(new: StackWindow, legacy: StackWindow, spec: AnalysisSpec) -> MetricComparison:
    need = spec.min_requests["latency"]
    if not new.latency_buckets or not legacy.latency_buckets:
        if 0 in (new.requests, legacy.requests):  # no traffic yet: no series is not a broken source
            return MetricComparison(metric="latency", verdict="waiting", n_new=new.requests, n_legacy=legacy.requests,
                                    message=f"{new.requests} new / {legacy.requests} legacy requests; need {need} each")
        return MetricComparison(metric="latency", verdict="unmeasured", message="no latency histogram from the source")
    try:
        nb, nc = bin_counts(new.latency_buckets)
        lb, lc = bin_counts(legacy.latency_buckets)
    except ValueError as exc:
        return MetricComparison(metric="latency", verdict="unmeasured", message=f"histogram not usable: {exc}")
    if nb != lb:
        return MetricComparison(metric="latency", verdict="unmeasured",
                                message="the stacks' histograms have different bucket bounds")
    n, m = sum(nc), sum(lc)
    if n < need or m < need:
        return MetricComparison(metric="latency", verdict="waiting", n_new=n, n_legacy=m,
                                message=f"{n} new / {m} legacy requests with latencies; need {need} each")
    t = mann_whitney_binned(nc, lc)
    p99_diff = None if new.p99_ms is None or legacy.p99_ms is None else new.p99_ms - legacy.p99_ms
    slower = t.effect > 0.5 and t.p_value < spec.alpha
    verdict: MetricVerdict = ("fail" if slower and t.effect >= spec.latency_fail_effect
                              else "marginal" if slower and t.effect >= spec.latency_marginal_effect else "pass")
    p99 = "" if p99_diff is None else f", p99 {p99_diff:+.0f} ms"
    return MetricComparison(
        metric="latency", verdict=verdict, n_new=n, n_legacy=m, p_value=t.p_value, effect=t.effect,
        detail={"u": t.u, "z": t.z, "rank_biserial": t.rank_biserial, "p99_diff_ms": p99_diff,
                "p99_new_ms": new.p99_ms, "p99_legacy_ms": legacy.p99_ms},
        message=f"P(new slower) = {t.effect:.3f} (r = {t.rank_biserial:+.3f}), Mann-Whitney p = {t.p_value:.3g}{p99}")


def compare_errors(new: StackWindow, legacy: StackWindow, spec: AnalysisSpec) -> MetricComparison:
    need = spec.min_requests["error_rate"]
    n, m, new_errors, legacy_errors = new.requests, legacy.requests, new.errors, legacy.errors
    if n is None or m is None or new_errors is None or legacy_errors is None:
        return MetricComparison(metric="error_rate", verdict="unmeasured", n_new=n, n_legacy=m,
                                message="no request/error counts from the source")
    if n < need or m < need:
        return MetricComparison(metric="error_rate", verdict="waiting", n_new=n, n_legacy=m,
                                message=f"{n} new / {m} legacy requests; need {need} each")
    t = two_proportions(new_errors, n, legacy_errors, m)
    worse = t.difference > 0 and t.p_value < spec.alpha
    verdict: MetricVerdict = ("fail" if worse and t.difference >= spec.error_rate_fail_diff
                              else "marginal" if worse and t.difference >= spec.error_rate_marginal_diff else "pass")
    return MetricComparison(
        metric="error_rate", verdict=verdict, n_new=n, n_legacy=m, p_value=t.p_value, effect=t.difference,
        detail={"z": t.z, "new_rate": new_errors / n, "legacy_rate": legacy_errors / m},
        message=f"errors {new_errors / n:.2%} new vs {legacy_errors / m:.2%} legacy "
                f"({t.difference:+.2%}), two-proportion p = {t.p_value:.3g}")


def combine(verdicts: list[MetricVerdict]) -> MetricVerdict:
    for v in ("fail", "unmeasured", "waiting", "marginal"):
        if v in verdicts:
            return v
    return "pass"


def analyze(new: StackWindow | None, legacy: StackWindow | None, spec: AnalysisSpec, *,
            unreadable: str = "") -> AnalysisResult:
    """The verdict for one window. A stack that could not be read (None) makes everything unmeasured."""
    if new is None or legacy is None:
        why = unreadable or "a stack's metrics could not be read"
        metrics = [MetricComparison(metric=k, verdict="unmeasured", message=why) for k in ("latency", "error_rate")]
        return AnalysisResult(verdict="unmeasured", window_seconds=spec.window_seconds, metrics=metrics,
                              message=f"unmeasured: {why}")
    metrics = [compare_latency(new, legacy, spec), compare_errors(new, legacy, spec)]
    verdict = combine([c.verdict for c in metrics])
    worst = [c for c in metrics if c.verdict == verdict]
    return AnalysisResult(verdict=verdict, window_seconds=spec.window_seconds, metrics=metrics,
                          message=f"{verdict}: " + "; ".join(f"{c.metric} {c.message}" for c in (worst or metrics)))
