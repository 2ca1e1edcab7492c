"""Pure parts of memory: the fact-array parser, the lexical contradiction detector, the NLI label
parser, the consolidation prompt, and the OpenSearch request bodies (no OpenSearch runs here)."""
from __future__ import annotations

import asyncio
import logging

import pytest

from orchestrator.memory.consolidation import ConsolidationPipeline, interaction_prompt, parse_fact_array
from orchestrator.memory.contradiction import (LexicalContradictionDetector, NliContradictionDetector,
                                               lexical_relation, parse_claim, parse_nli_label)
from orchestrator.memory.opensearch_episodic import episode_document, index_body, knn_query, parse_hits
from orchestrator.ports import BackendError, Completion, Fact, Message, ModelTier


class ScriptedBackend:
    """A tiny Backend: answers every request with the next scripted text and records requests."""

    tier = ModelTier.SHADOW_SELF

    def __init__(self, *answers: str | Exception):
        self.answers, self.requests = list(answers), []

    async def complete(self, messages, *, max_tokens=256, temperature=0.0):
        self.requests.append(list(messages))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Completion(text=answer, tier=self.tier, model_id="scripted")

    async def stream(self, messages, *, max_tokens=256, temperature=0.0):
        yield (await self.complete(messages)).text

    async def close(self):
        pass


class ListSemantic:
    def __init__(self):
        self.facts: list[Fact] = []

    async def put_fact(self, fact: Fact) -> Fact:
        stored = Fact(**{**fact.__dict__, "fact_id": f"f{len(self.facts) + 1}"})
        self.facts.append(stored)
        return stored


# -- JSON parsing tolerance -------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    '[{"subject": "machine learning", "fact": "Machine learning is a subset of AI."}]',
    'Here are the facts:\n[{"subject": "machine learning", "fact": "Machine learning is a subset of AI."}]\nDone.',
    '```json\n[\n  {"subject": "machine learning", "fact": "Machine learning is a subset of AI."}\n]\n```',
    'Facts [see below]: [{"subject": " machine learning ", "fact": "Machine learning is a subset of AI.  "}]',
    '[1, 2] then [{"subject": "machine learning", "text": "Machine learning is a subset of AI."}]',
])
def test_fact_array_found_in_prose_fences_and_noise(text):
    assert parse_fact_array(text) == [{"subject": "machine learning",
                                       "fact": "Machine learning is a subset of AI."}]


@pytest.mark.parametrize("text", ["", "no facts here", "[{'subject': 'x', 'fact': 'y'}]",
                                  '[{"subject": "x", "fact": "y"', "{\"subject\": \"x\"}"])
def test_unparsable_answers_give_none(text):
    assert parse_fact_array(text) is None


def test_empty_array_is_no_facts_and_bad_items_are_dropped(caplog):
    assert parse_fact_array("[]") == []
    with caplog.at_level(logging.WARNING):
        got = parse_fact_array('[{"subject": "a", "fact": "A is b."}, {"subject": "", "fact": "x"},'
                               ' {"fact": "no subject"}, {"subject": "c", "fact": 3}]')
    assert got == [{"subject": "a", "fact": "A is b."}]
    assert "dropped 3" in caplog.text


def test_prompt_starts_with_extract_facts_and_carries_query_and_response():
    msgs = interaction_prompt({"query": "What is ML?", "response": "ML is a subset of AI."})
    assert msgs[0].role == "system" and msgs[0].content.startswith("EXTRACT_FACTS")
    assert msgs[1] == Message("user", "Query:\nWhat is ML?\n\nResponse:\nML is a subset of AI.")


def test_pipeline_bad_json_logs_and_returns_no_facts(caplog):
    semantic = ListSemantic()
    pipeline = ConsolidationPipeline(ScriptedBackend("Sorry, I cannot do that."), semantic)
    with caplog.at_level(logging.WARNING):
        facts = asyncio.run(pipeline.extract_facts({"id": "ix-1", "query": "q", "response": "r"}))
    assert facts == [] and semantic.facts == []
    assert "no JSON fact array" in caplog.text and "ix-1" in caplog.text


def test_pipeline_turns_items_into_facts_with_domain_and_provenance():
    semantic = ListSemantic()
    backend = ScriptedBackend('Sure: [{"subject": "ML", "fact": "ML is a subset of AI."}]')
    pipeline = ConsolidationPipeline(backend, semantic, clock=lambda: 1234.5)
    facts = asyncio.run(pipeline.extract_facts(
        {"id": "ix-9", "query": "What is ML?", "response": "ML is...", "domain": "ai"}))
    assert [(f.domain, f.subject, f.text, f.source, f.created_at, f.fact_id) for f in facts] == [
        ("ai", "ML", "ML is a subset of AI.", "ix-9", 1234.5, "f1")]
    assert backend.requests[0][0].content.startswith("EXTRACT_FACTS")


def test_pipeline_lets_backend_errors_through_for_a_later_retry():
    pipeline = ConsolidationPipeline(ScriptedBackend(BackendError("timeout", "slow")), ListSemantic())
    with pytest.raises(BackendError):
        asyncio.run(pipeline.extract_facts({"query": "q", "response": "r"}))


# -- lexical contradiction detector --------------------------------------------------------------
@pytest.mark.parametrize("premise, hypothesis, expected", [
    ("The capital of France is Paris.", "the capital of france is paris", "entailment"),
    ("The capital of France is Paris.", "The capital of France is Lyon.", "contradiction"),
    ("Bob is a doctor", "Bob is not a doctor", "contradiction"),
    ("Bob isn't a doctor", "Bob is a doctor", "contradiction"),
    ("Bob is no longer a doctor", "Bob is a doctor", "contradiction"),
    ("Bob is not a doctor", "Bob is not a doctor.", "entailment"),
    ("Bob is not a doctor", "Bob is a lawyer", "neutral"),
    ("Bob was a doctor", "Bob is a lawyer", "neutral"),           # tense differs: things change
    ("Acme has 3 offices", "Acme has 5 offices", "contradiction"),
    ("Acme has 1,200 employees", "Acme has 1200 employees", "entailment"),
    ("Acme has 3 offices", "Acme does not have 3 offices", "contradiction"),
    ("Acme has 3 offices", "Acme doesn't have 5 offices", "neutral"),
    ("Acme has 3 offices", "Acme has 2 factories", "neutral"),
    ("Acme has 3 offices", "Acme has offices", "neutral"),
    ("Acme has no offices", "Acme has offices", "contradiction"),
    ("Acme has a car", "Acme has a dog", "neutral"),
    ("Alice is 30 years old", "Alice is 31 years old", "contradiction"),
    ("Alice is 30 years old", "Bob is 31 years old", "neutral"),  # different subjects
    ("Python is popular", "Python was created in 1991", "neutral"),
    ("Sky blue", "Sky red", "neutral"),                           # no pattern: never guess
    ("Python is popular", "Python has many libraries", "neutral"),
])
def test_lexical_relation(premise, hypothesis, expected):
    assert lexical_relation(premise, hypothesis) == expected
    assert asyncio.run(LexicalContradictionDetector().relation(premise, hypothesis)) == expected


def test_parse_claim_splits_on_the_first_verb_and_strips_articles():
    c = parse_claim("The capital of France is the city of Paris.")
    assert (c.subject, c.kind, c.tense, c.negated, c.value) == ("capital of france", "be", "now", False,
                                                                "city of paris")
    assert parse_claim("Acme hasn't 3 offices").negated is True
    assert parse_claim("Acme has 3 offices").number == 3.0
    assert parse_claim("is") is None and parse_claim("Acme is") is None


# -- NLI adapter -------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, label", [("contradiction", "contradiction"), ("ENTAILMENT.", "entailment"),
                                         ('{"label": "neutral"}', "neutral"),
                                         ("entailment, not contradiction", "entailment"),
                                         ('{"label": "contradiction", "scores": {"entailment": 0.05}}',
                                          "contradiction"),
                                         ('[{"label": "NEUTRAL", "score": 0.1}, {"label": "ENTAILMENT", '
                                          '"score": 0.8}]', "entailment"),
                                         ("I am not sure", None)])
def test_parse_nli_label(text, label):
    assert parse_nli_label(text) == label


def test_nli_detector_asks_the_model_and_degrades_to_neutral():
    backend = ScriptedBackend("Contradiction", "maybe?", BackendError("server", "boom"))
    nli = NliContradictionDetector(backend)
    assert asyncio.run(nli.relation("A is b", "A is c")) == "contradiction"
    assert backend.requests[0][0].content.startswith("NLI")
    assert backend.requests[0][1].content == "premise: A is b\nhypothesis: A is c"
    assert asyncio.run(nli.relation("x", "y")) == "neutral"
    assert asyncio.run(nli.relation("x", "y")) == "neutral"


# -- OpenSearch request bodies (pure; no OpenSearch runs here) ---------------------------------------
def test_opensearch_index_body_is_a_knn_vector_mapping():
    body = index_body(384)
    assert body["settings"]["index"]["knn"] is True
    vec = body["mappings"]["properties"]["vector"]
    assert vec == {"type": "knn_vector", "dimension": 384,
                   "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil",
                              "parameters": {"m": 16, "ef_construction": 128}}}
    assert body["mappings"]["properties"]["user_id"] == {"type": "keyword"}
    assert body["mappings"]["properties"]["metadata"] == {"type": "object", "enabled": False}


def test_opensearch_knn_query_with_and_without_user_filter():
    assert knn_query([1, 0.5], k=3) == {"size": 3, "_source": {"excludes": ["vector"]},
                                        "query": {"knn": {"vector": {"vector": [1.0, 0.5], "k": 3}}}}
    q = knn_query([1, 0], k=2, filter_user="u1")
    assert q["query"]["knn"]["vector"]["filter"] == {"bool": {"filter": [{"term": {"user_id": "u1"}}]}}


def test_opensearch_document_and_hits():
    doc = episode_document("q\na", [0.1, 0.2], {"user_id": 7, "domain": "ai"})
    assert doc == {"vector": [0.1, 0.2], "text": "q\na", "metadata": {"user_id": 7, "domain": "ai"},
                   "user_id": "7"}
    assert "user_id" not in episode_document("t", [1.0], {})
    resp = {"hits": {"hits": [{"_id": "ix-1", "_score": 0.97, "_source": {"metadata": {"domain": "ai"}}}]}}
    assert parse_hits(resp) == [("ix-1", 0.97, {"domain": "ai"})]


# -- the wire contract with the sandbox's model simulator (skipped where it is absent) ----------------
class SimulatorBackend(ScriptedBackend):
    """Answers like the model simulator does, from its pure responder."""

    def __init__(self, model_id: str):
        super().__init__()
        self.model_id = model_id

    async def complete(self, messages, *, max_tokens=256, temperature=0.0):
        sim = pytest.importorskip("cato_sandbox.sim_responder")
        self.requests.append(list(messages))
        text = sim.respond([{"role": m.role, "content": m.content} for m in messages], self.model_id)
        return Completion(text=text, tier=self.tier, model_id=self.model_id)


def test_simulator_extract_facts_contract():
    semantic = ListSemantic()
    pipeline = ConsolidationPipeline(SimulatorBackend("shadow-self"), semantic)
    facts = asyncio.run(pipeline.extract_facts({"id": "ix-1", "domain": "profile",
                                                "query": "I live in Paris. Where should I eat?",
                                                "response": "Try a bistro."}))
    assert [(f.domain, f.subject, f.text, f.source) for f in facts] == [
        ("profile", "user", "The user lives in Paris.", "ix-1")]


def test_simulator_nli_contract():
    nli = NliContradictionDetector(SimulatorBackend("deberta-v3-mnli"))
    assert asyncio.run(nli.relation("The user lives in Paris.", "The user lives in London.")) == "contradiction"
    assert asyncio.run(nli.relation("The user lives in Paris.", "The user lives in Paris.")) == "entailment"
