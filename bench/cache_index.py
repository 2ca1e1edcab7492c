"""Semantic-cache index lookup latency: hnswlib graph vs numpy brute force, same run, same data.

    .venv/bin/python bench/cache_index.py [--sizes 1000,10000,100000] [--queries 500]

Synthetic 384-d unit vectors in clusters (like questions on a few thousand topics); each query is
a stored vector with noise added, so its exact nearest neighbour is known from brute force.
Prints p50/p99 lookup milliseconds for both backends, their ratio, the graph's recall@1 against
the exact answer, and the graph's latency on a miss (which pays for a second, wider search).
Both run through `orchestrator.cache.index.VectorIndex`, one thread.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.cache.index import VectorIndex  # noqa: E402

DIM = 384


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n: int, rng: np.random.Generator, topics: int = 2000) -> np.ndarray:
    centres = unit(rng.normal(size=(min(topics, n), DIM)))
    which = rng.integers(0, len(centres), size=n)
    return unit(centres[which] + 0.06 * rng.normal(size=(n, DIM)))


def timed(index: VectorIndex, queries: np.ndarray, min_similarity: float | None = None) -> tuple[np.ndarray, list[int]]:
    index.search(queries[0], 1)                                 # warm-up
    times, found = [], []
    for q in queries:
        t0 = time.perf_counter()
        best = index.search(q, 4, min_similarity=min_similarity)
        times.append((time.perf_counter() - t0) * 1000)
        found.append(best[0].id)
    return np.asarray(times), found


def run(sizes: list[int], n_queries: int, seed: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        data = clustered(n, rng)
        picks = rng.integers(0, n, size=n_queries)
        queries = unit(data[picks] + 0.02 * rng.normal(size=(n_queries, DIM)))
        exact = VectorIndex(DIM, brute_force_max=sys.maxsize, initial_capacity=n)
        exact.add_many(data)
        t0 = time.perf_counter()
        graph = VectorIndex(DIM, brute_force_max=0, initial_capacity=n, threads=2)
        graph.add_many(data)
        build_s = time.perf_counter() - t0
        assert exact.backend == "numpy" and graph.backend == "hnsw"
        exact_ms, truth = timed(exact, queries)
        graph_ms, got = timed(graph, queries, min_similarity=0.80)
        # worst-case miss: a random direction, nothing similar cached; the graph retries with its wider beam
        misses = unit(rng.normal(size=(n_queries, DIM)))
        miss_ms, _ = timed(graph, misses, min_similarity=0.80)
        rows.append({
            "n": n, "build_s": build_s,
            "hnsw_p50": float(np.percentile(graph_ms, 50)), "hnsw_p99": float(np.percentile(graph_ms, 99)),
            "numpy_p50": float(np.percentile(exact_ms, 50)), "numpy_p99": float(np.percentile(exact_ms, 99)),
            "recall": float(np.mean(np.asarray(got) == np.asarray(truth))),
            "miss_p50": float(np.percentile(miss_ms, 50)), "miss_p99": float(np.percentile(miss_ms, 99)),
        })
        del exact, graph, data
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"{'entries':>8} {'hnsw p50':>9} {'hnsw p99':>9} {'numpy p50':>10} {'numpy p99':>10} "
          f"{'p50 x':>7} {'p99 x':>7} {'recall@1':>9} {'miss p50':>9} {'miss p99':>9} {'build s':>8}")
    for r in run(sizes, args.queries):
        print(f"{r['n']:>8} {r['hnsw_p50']:>9.3f} {r['hnsw_p99']:>9.3f} {r['numpy_p50']:>10.3f} "
              f"{r['numpy_p99']:>10.3f} {r['numpy_p50'] / r['hnsw_p50']:>7.1f} "
              f"{r['numpy_p99'] / r['hnsw_p99']:>7.1f} {r['recall']:>9.3f} {r['miss_p50']:>9.3f} "
              f"{r['miss_p99']:>9.3f} {r['build_s']:>8.1f}")
    print("ms per lookup (k=4), one thread; 'x' = numpy time / hnsw time (higher: the graph is faster);\n"
          "miss = hnsw lookup of a random-direction query, nothing similar cached (best < 0.80: retried, ef 400)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
