import json
from pathlib import Path

import pytest

from orchestrator.evals.routing_eval import evaluate_routing, load_cases
from orchestrator.ports import ModelTier
from orchestrator.routing import FALLBACKS, ComplexityRouter, determine_routing

HAIKU, SONNET, SHADOW = ModelTier.BEDROCK_HAIKU, ModelTier.BEDROCK_SONNET, ModelTier.SHADOW_SELF
ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "evals" / "routing_cases.jsonl"
HELDOUT = ROOT / "evals" / "routing_heldout.jsonl"


# --- runbook week 5 -----------------------------------------------------------------------------

def test_runbook_simple_query_goes_to_haiku():
    assert determine_routing("What is 2+2?", "general").primary_model == HAIKU


def test_runbook_complex_query_goes_to_sonnet():
    d = determine_routing("Explain the implications of quantum computing on cryptography", "general")
    assert d.primary_model == SONNET


def test_reason_explains_which_signals_fired():
    d = determine_routing("Explain the implications of quantum computing on cryptography", "general")
    assert d.reason.startswith(f"complex (score {d.score:.1f} ≥ 2.0)")
    assert "'explain'" in d.reason and "'implications'" in d.reason and "2 technical terms" in d.reason
    s = determine_routing("What is 2+2?", "general")
    assert s.reason.startswith("simple (") and "arithmetic" in s.reason and s.score < 2.0


def test_fallbacks_are_ordered_per_tier():
    assert determine_routing("hi", "general").fallbacks == (SONNET,)
    assert determine_routing("Compare the trade-offs of Raft and Paxos", "general").fallbacks == (HAIKU,)
    r = ComplexityRouter(shadow_self_domains=frozenset({"shadow"}))
    assert r.decide("hi", "shadow").fallbacks == (SONNET, HAIKU)
    assert FALLBACKS[HAIKU] == (SONNET,)


def test_shadow_self_domains_route_there_whatever_the_complexity_and_say_so():
    r = ComplexityRouter(shadow_self_domains=frozenset({"Shadow", "introspection"}))
    for q in ("hi", "Explain the implications of quantum computing on cryptography"):
        d = r.decide(q, " SHADOW ")
        assert d.primary_model == SHADOW
        assert "domain 'shadow' is configured for Shadow Self" in d.reason
    assert r.decide("hi", "general").primary_model == HAIKU
    assert ComplexityRouter().decide("hi", "shadow").primary_model == HAIKU   # not configured


def test_decisions_are_deterministic():
    queries = [json.loads(line)["query"] for line in CASES.read_text().splitlines() if line.strip()]
    a, b = ComplexityRouter(), ComplexityRouter()
    assert [a.decide(q, "general") for q in queries] == [b.decide(q, "general") for q in queries]
    assert [a.decide(q, "general") for q in queries] == [a.decide(q, "general") for q in queries]


def test_threshold_is_configurable():
    q = "Explain the implications of quantum computing on cryptography"
    assert ComplexityRouter(sonnet_threshold=10).decide(q, "general").primary_model == HAIKU
    assert ComplexityRouter(sonnet_threshold=-5).decide("hello", "general").primary_model == SONNET


def test_explicit_router_is_used_by_determine_routing():
    r = ComplexityRouter(shadow_self_domains=frozenset({"introspection"}))
    assert determine_routing("hi", "introspection", router=r).primary_model == SHADOW


@pytest.mark.parametrize("query, tier", [
    ("Thanks!", HAIKU),
    ("Translate 'cat' into French", HAIKU),
    ("What does CPU stand for?", HAIKU),
    ("Why does this fail?\n```\nTraceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'id'\n```", SONNET),
    ("What are the pros and cons of index funds versus picking stocks for retirement?", SONNET),
    ("Derive the quadratic formula and prove it gives both roots", SONNET),
    ("", HAIKU),
])
def test_general_signals(query, tier):
    assert determine_routing(query, "general").primary_model == tier


def test_every_decision_explains_itself():
    assert "very short (0 words)" in determine_routing("   ", "general").reason
    assert determine_routing("Please describe your refund policy to me", "support").reason.endswith(
        "task verb 'describe'")
    assert "no complexity signals" in determine_routing("My cat likes to sleep on the warm laptop", "x").reason


# --- evaluation -----------------------------------------------------------------------------------

def test_labelled_set_is_big_and_varied():
    cases = load_cases(CASES)
    assert len(cases) >= 100
    assert {t for _, _, t in cases} == set(ModelTier)
    assert len({d for _, d, _ in cases}) >= 10


def test_eval_on_labelled_set_meets_accuracy_and_latency_targets():
    report = evaluate_routing(CASES)
    assert report["n"] >= 100
    assert report["accuracy"] >= 0.85, report["mistakes"]
    assert report["p50_decision_ms"] <= report["p99_decision_ms"]
    # Other processes on a shared CI box only ever add latency, so the best of a few runs is the
    # router's own cost; typical p99 here is 0.15-0.3 ms.
    p99 = min([report["p99_decision_ms"]] + [evaluate_routing(CASES)["p99_decision_ms"] for _ in range(2)])
    assert p99 <= 1.0
    assert sum(sum(row.values()) for row in report["confusion"].values()) == report["n"]


def test_eval_on_heldout_set_is_reported_and_does_not_regress():
    # Written after tuning; 28/31 when first measured. The floor guards against regressions only.
    report = evaluate_routing(HELDOUT)
    assert report["n"] >= 30 and report["accuracy"] >= 0.85, report["mistakes"]


def test_mistakes_carry_the_routers_reasons(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps({"query": "hello", "domain": "general", "expected_tier": "bedrock_sonnet"}) + "\n"
                    + json.dumps({"query": "What is 2+2?", "domain": "general", "expected_tier": "bedrock_haiku"}) + "\n")
    report = evaluate_routing(path)
    assert report["n"] == 2 and report["accuracy"] == 0.5
    assert report["confusion"]["bedrock_sonnet"]["bedrock_haiku"] == 1
    (m,) = report["mistakes"]
    assert m["expected"] == "bedrock_sonnet" and m["predicted"] == "bedrock_haiku" and "greeting" in m["reason"]


def test_eval_default_router_knows_the_shadow_domains(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps({"query": "hi", "domain": "introspection", "expected_tier": "shadow_self"}) + "\n")
    assert evaluate_routing(path)["accuracy"] == 1.0


@pytest.mark.parametrize("line, problem", [
    ('{"query": "hi", "domain": "g", "expected_tier": "bedrock_opus"}', "unknown tier 'bedrock_opus'"),
    ('{"query": "hi", "expected_tier": "bedrock_haiku"}', "missing field 'domain'"),
    ('{"query": "hi", "domain": "g", "expected_tier": ', "bad JSON"),
    ('["hi", "g", "bedrock_haiku"]', "expected a JSON object"),
    ('{"query": 3, "domain": "g", "expected_tier": "bedrock_haiku"}', "field 'query' must be a string"),
])
def test_bad_lines_name_line_number_and_problem(tmp_path, line, problem):
    path = tmp_path / "cases.jsonl"
    good = json.dumps({"query": "hi", "domain": "g", "expected_tier": "bedrock_haiku"})
    path.write_text(f"{good}\n\n{line}\n")
    with pytest.raises(ValueError) as e:
        evaluate_routing(path)
    assert "line 3" in str(e.value) and problem in str(e.value)


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n")
    with pytest.raises(ValueError, match="no cases"):
        evaluate_routing(path)
