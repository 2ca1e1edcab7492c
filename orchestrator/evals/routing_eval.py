"""Offline evaluation of the complexity router against a labelled JSONL set.

Each line: {"query": str, "domain": str, "expected_tier": "bedrock_haiku"|"bedrock_sonnet"|"shadow_self"}.
Reports accuracy, a confusion table, the first mistakes with the router's own reasons (so a
misroute can be fixed from the report alone) and decision latency percentiles.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from orchestrator.ports import ModelTier
from orchestrator.routing import ComplexityRouter

# The labelled sets use these domains for Shadow Self cases; production config supplies its own.
EVAL_SHADOW_DOMAINS = frozenset({"shadow", "introspection"})
_TIERS = {t.value: t for t in ModelTier}
# Latency: one pass over ~100 queries gives only ~100 samples, too few for a stable p99,
# so the set is replayed; the first pass also warms regex and allocator caches.
_TIMING_PASSES = 20
_MAX_MISTAKES = 10


def load_cases(cases_path: str | Path) -> list[tuple[str, str, ModelTier]]:
    """Parse and validate; a bad line raises ValueError naming its line number and the problem."""
    cases: list[tuple[str, str, ModelTier]] = []
    with open(cases_path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue            # blank lines (e.g. a trailing newline) are not cases
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{cases_path} line {lineno}: bad JSON: {e.msg}") from None
            if not isinstance(row, dict):
                raise ValueError(f"{cases_path} line {lineno}: expected a JSON object, got {type(row).__name__}")
            for key in ("query", "domain", "expected_tier"):
                if key not in row:
                    raise ValueError(f"{cases_path} line {lineno}: missing field '{key}'")
                if not isinstance(row[key], str):
                    raise ValueError(f"{cases_path} line {lineno}: field '{key}' must be a string")
            tier = _TIERS.get(row["expected_tier"].strip().lower())
            if tier is None:
                raise ValueError(f"{cases_path} line {lineno}: unknown tier '{row['expected_tier']}' "
                                 f"(expected one of {', '.join(sorted(_TIERS))})")
            cases.append((row["query"], row["domain"], tier))
    if not cases:
        raise ValueError(f"{cases_path}: no cases")
    return cases


def _percentile(sorted_ns: list[int], p: float) -> float:
    """Nearest-rank percentile in milliseconds."""
    idx = min(len(sorted_ns) - 1, max(0, int(round(p / 100 * len(sorted_ns) + 0.5)) - 1))
    return sorted_ns[idx] / 1e6


def evaluate_routing(cases_path: str | Path, router: ComplexityRouter | None = None) -> dict:
    router = router or ComplexityRouter(shadow_self_domains=EVAL_SHADOW_DOMAINS)
    cases = load_cases(cases_path)

    confusion: dict[str, dict[str, int]] = {t.value: {u.value: 0 for u in ModelTier} for t in ModelTier}
    mistakes: list[dict] = []
    correct = 0
    for query, domain, expected in cases:
        d = router.decide(query, domain)
        confusion[expected.value][d.primary_model.value] += 1
        if d.primary_model == expected:
            correct += 1
        elif len(mistakes) < _MAX_MISTAKES:
            mistakes.append({"query": query, "domain": domain, "expected": expected.value,
                             "predicted": d.primary_model.value, "score": d.score, "reason": d.reason})

    timings: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(_TIMING_PASSES):
        for query, domain, _expected in cases:
            t0 = clock()
            router.decide(query, domain)
            timings.append(clock() - t0)
    timings.sort()

    return {
        "n": len(cases),
        "accuracy": correct / len(cases),
        "p50_decision_ms": _percentile(timings, 50),
        "p99_decision_ms": _percentile(timings, 99),
        "confusion": confusion,
        "mistakes": mistakes,
    }
