"""Offline evaluation of the semantic cache against labelled question pairs.

Each JSONL line: {"first": str, "second": str, "same_answer": bool}. For every pair a FRESH cache
stores `first` with an answer, then looks up `second`. A hit is right when `same_answer` is true
(a paraphrase served from cache) and wrong when it is false (a near-miss served someone else's
answer). Reports both rates, lookup latency percentiles (embedding included) and a few failures
with the guard's own reason, so a miss can be understood from the report alone.
"""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import numpy as np

from orchestrator.cache.service import SemanticCacheService

_MAX_FAILURES = 8
_FIELDS = (("first", str), ("second", str), ("same_answer", bool))


def load_pairs(pairs_path: str | Path) -> list[tuple[str, str, bool]]:
    """Parse and validate; a bad line raises ValueError naming its line number and the problem."""
    pairs: list[tuple[str, str, bool]] = []
    with open(pairs_path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{pairs_path} line {lineno}: bad JSON: {e.msg}") from None
            if not isinstance(row, dict):
                raise ValueError(f"{pairs_path} line {lineno}: expected a JSON object, got {type(row).__name__}")
            for key, kind in _FIELDS:
                if key not in row:
                    raise ValueError(f"{pairs_path} line {lineno}: missing field '{key}'")
                if not isinstance(row[key], kind) or (kind is str and not row[key].strip()):
                    raise ValueError(f"{pairs_path} line {lineno}: '{key}' must be a non-empty {kind.__name__}")
            pairs.append((row["first"], row["second"], row["same_answer"]))
    if not pairs:
        raise ValueError(f"{pairs_path}: no pairs")
    return pairs


async def evaluate_cache_async(pairs_path: str | Path, *, embedder=None, threshold: float = 0.80,
                               guard: bool = True) -> dict:
    pairs = load_pairs(pairs_path)
    if embedder is None:
        from orchestrator.cache.embedder import Embedder
        embedder = Embedder()
    await asyncio.to_thread(embedder.embed, ["warm-up"])        # the model load is not a lookup
    latencies: list[float] = []
    paraphrase_hits = near_miss_hits = paraphrases = near_misses = 0
    failures: list[dict] = []
    for first, second, same in pairs:
        cache = SemanticCacheService(embedder=embedder, threshold=threshold, guard=guard)
        await cache.store(first, f"cached answer to: {first}")
        t0 = time.perf_counter()
        trace = await cache.lookup_traced(second)
        latencies.append((time.perf_counter() - t0) * 1000)
        hit = trace.hit is not None
        paraphrases += same
        near_misses += not same
        paraphrase_hits += same and hit
        near_miss_hits += (not same) and hit
        if hit != same:
            failures.append({
                "kind": "missed_paraphrase" if same else "false_hit",
                "first": first, "second": second,
                "similarity": None if trace.best_similarity is None else round(trace.best_similarity, 4),
                "rule": trace.decision.rule if trace.decision is not None else None,
                "reason": trace.reason,
            })
    failures.sort(key=lambda f: f["kind"] != "false_hit")         # wrong answers served come first
    lat = np.asarray(latencies)
    return {
        "n": len(pairs),
        "paraphrases": paraphrases,
        "near_misses": near_misses,
        "paraphrase_hits": paraphrase_hits,
        "near_miss_false_hits": near_miss_hits,
        "paraphrase_hit_rate": round(paraphrase_hits / paraphrases, 4) if paraphrases else None,
        "near_miss_false_hit_rate": round(near_miss_hits / near_misses, 4) if near_misses else None,
        "p50_lookup_ms": round(float(np.percentile(lat, 50)), 3),
        "p99_lookup_ms": round(float(np.percentile(lat, 99)), 3),
        "threshold": threshold,
        "guard": bool(guard),
        "failures": failures[:_MAX_FAILURES],
    }


def evaluate_cache(pairs_path: str | Path, *, embedder=None, threshold: float = 0.80, guard: bool = True) -> dict:
    """Synchronous entry point (the CLI's `eval cache --pairs FILE`)."""
    return asyncio.run(evaluate_cache_async(pairs_path, embedder=embedder, threshold=threshold, guard=guard))
