"""The model simulator's answer rules: context only from the conversation, NLI, facts."""
from __future__ import annotations

import json

import pytest

from cato_sandbox import sim_config, sim_facts, sim_nli
from cato_sandbox.sim_responder import (generic_answer, hidden_states, respond, tier_for,
                                                 tokens)


def conv(*turns: str, system: str | None = None) -> list[dict[str, str]]:
    out = [{"role": "system", "content": system}] if system else []
    out += [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]
    return out


def test_name_is_known_only_through_the_history():
    assert respond(conv("My name is Alice", "Nice to meet you.", "What is my name?")) == "Your name is Alice."
    alone = respond(conv("What is my name?"))
    assert "Alice" not in alone and "don't know" in alone


def test_memory_injected_in_the_system_prompt_counts_as_context():
    system = "Known facts:\n- The user's name is Carol.\n- The user lives in Rome."
    assert respond(conv("What is my name?", system=system)) == "Your name is Carol."
    assert respond(conv("Where do I live?", system=system)) == "You live in Rome."


@pytest.mark.parametrize("history, question, expected", [
    ("I live in Paris", "Where do I live?", "You live in Paris."),
    ("My name is Bob and I work at Acme Corp.", "Where do I work?", "You work at Acme Corp."),
    ("I'm a teacher", "What do I do?", "You work as a teacher."),
    ("I am 41 years old", "How old am I?", "You are 41 years old."),
    ("I like tea and jazz. I hate mornings.", "What do I like?", "You like tea and jazz."),
    ("I don't like coffee", "Do I like coffee?", "No, you don't like coffee."),
    ("My favorite color is green", "What's my favorite color?", "Your favorite color is green."),
    ("My wife's name is Jane", "What is my wife's name?", "Your wife's name is Jane."),
])
def test_personal_facts(history, question, expected):
    assert respond(conv(history, "Noted.", question)) == expected


def test_later_statements_win():
    assert respond(conv("I live in Paris", "ok", "I moved to Berlin", "ok", "Where do I live?")) \
        == "You live in Berlin."


def test_assistant_turns_are_not_a_source_of_facts():
    assert "Alice" not in respond(conv("Hi", "My name is Alice.", "What is my name?"))


@pytest.mark.parametrize("question, answer", [
    ("What is 2+2?", "The answer is 4."), ("Calculate (3 + 4) * 5", "The answer is 35."),
    ("what is 10 divided by 4?", "The answer is 2.5."), ("What is 7 times 6?", "The answer is 42."),
])
def test_arithmetic(question, answer):
    assert respond(conv(question)) == answer


def test_generic_answers_are_stable_and_never_echo_earlier_turns():
    q = "Explain the implications of quantum computing on cryptography"
    first = respond(conv("My secret word is zebra", "ok", q), tier="bedrock_sonnet")
    assert first == respond(conv(q), tier="bedrock_sonnet")  # history does not change it
    assert first.startswith("Answer about implications quantum computing cryptography")
    assert "bedrock_sonnet" in first and "zebra" not in first
    assert generic_answer("What is Python?") != generic_answer("What is Java?")


def test_tier_mapping():
    assert tier_for("anthropic.claude-3-haiku-20240307-v1:0") == "bedrock_haiku"
    assert tier_for("anthropic.claude-3-5-sonnet-20240620-v1:0") == "bedrock_sonnet"
    assert tier_for("cato-shadow-self") == "shadow_self"
    assert tier_for("llama-3-8b", default="bedrock_haiku") == "bedrock_haiku"


def test_tokens_join_back_to_the_text():
    text = "Your name is  Alice.\nBye"
    assert "".join(tokens(text)) == text and len(tokens(text)) == 5


@pytest.mark.parametrize("premise, hypothesis, label", [
    ("The user lives in Paris.", "The user lives in London.", "contradiction"),
    ("My name is Alice", "The user's name is Bob", "contradiction"),
    ("I like tea", "I don't like tea", "contradiction"),
    ("The shop is open on Sundays.", "The shop is not open on Sundays.", "contradiction"),
    ("The capital of France is Paris", "The capital of France is Lyon", "contradiction"),
    ("The user lives in Paris and works at Acme.", "The user lives in Paris.", "entailment"),
    ("I like tea", "I like coffee", "neutral"),
    ("The sky is blue", "The grass is green", "neutral"),
])
def test_nli_labels(premise, hypothesis, label):
    result = sim_nli.nli(premise, hypothesis)
    assert result["label"] == label
    assert set(result["scores"]) == {"entailment", "neutral", "contradiction"}
    assert max(result["scores"], key=result["scores"].get) == label
    assert abs(sum(result["scores"].values()) - 1.0) < 1e-9


def test_nli_through_a_chat_model():
    answer = respond(conv(json.dumps({"premise": "I live in Paris", "hypothesis": "I live in Rome"})),
                     model_id="cato-nli")
    assert json.loads(answer)["label"] == "contradiction"


def test_fact_extraction_from_user_lines_only():
    transcript = ("user: My name is Alice and I live in Paris.\nassistant: My name is Bot.\n"
                  "user: I like green tea. The Eiffel Tower is in Paris. Hello! What time is it?")
    out = json.loads(respond([{"role": "system", "content": "EXTRACT_FACTS as JSON"},
                              {"role": "user", "content": transcript}]))
    assert out == [
        {"subject": "user", "attribute": "name", "fact": "The user's name is Alice."},
        {"subject": "user", "attribute": "city", "fact": "The user lives in Paris."},
        {"subject": "user", "attribute": "likes", "fact": "The user likes green tea."},
        {"subject": "The Eiffel Tower", "fact": "The Eiffel Tower is in Paris."},
    ]


def test_fact_extraction_keeps_user_facts_and_ignores_the_models_self_talk():
    interaction = ("Query:\nMy name is Alice and I work at Initech. What is the weather?\n\n"
                   "Response:\nI am a language model. Your name is Alice.")
    out = json.loads(respond([{"role": "system", "content": "EXTRACT_FACTS\nExtract facts."},
                              {"role": "user", "content": interaction}]))
    assert [f["fact"] for f in out] == ["The user's name is Alice.", "The user works at Initech."]


def test_fact_extraction_takes_domain_facts_from_the_response():
    interaction = "Query:\nWhat is machine learning?\n\nResponse:\nMachine learning is a field of AI that learns from data."
    out = json.loads(respond([{"role": "system", "content": "EXTRACT_FACTS\nExtract facts."},
                              {"role": "user", "content": interaction}]))
    assert out == [{"subject": "Machine learning", "fact": "Machine learning is a field of AI that learns from data."}]


def test_nli_by_system_prompt_answers_one_compact_token():
    answer = respond([{"role": "system", "content": "NLI\nClassify."},
                      {"role": "user", "content": "premise: I like tea\nhypothesis: I like tea and cake"}],
                     model_id="cato-shadow-self")
    assert len(tokens(answer)) == 1 and json.loads(answer)["label"] == "neutral"


def test_extracted_facts_read_back_as_context():
    facts = sim_facts.extract_facts("I work as a nurse. I don't like rain. I am from Oslo.")
    system = " ".join(f["fact"] for f in facts)
    assert respond(conv("What do I do?", system=system)) == "You work as a nurse."
    assert respond(conv("Do I like rain?", system=system)) == "No, you don't like rain."
    assert respond(conv("Where am I from?", system=system)) == "You are from Oslo."


def test_determinism():
    c = conv("I like chess", "ok", "Tell me about opening theory")
    assert len({respond(c, tier="shadow_self") for _ in range(3)}) == 1
    assert hidden_states("hello world", 16) == hidden_states("hello world", 16)


def test_hidden_states_are_unit_vectors_that_track_shared_words():
    a, b, c = (hidden_states(t, 64) for t in ("the cat sat", "the cat sat down", "stock prices rose"))
    assert len(a) == 64 and abs(sum(x * x for x in a) - 1) < 1e-4
    dot = lambda u, v: sum(x * y for x, y in zip(u, v))  # noqa: E731
    assert dot(a, b) > dot(a, c)


def test_config_merge_validates_and_the_dice_are_reproducible():
    cfg = sim_config.merge(sim_config.default_config(), {"tiers": {"*": {"error_rate": 0.5}}})
    assert all(t["error_rate"] == 0.5 for t in cfg["tiers"].values())
    for bad in ({"tiers": {"nope": {}}}, {"tiers": {"bedrock_haiku": {"error_rate": 2}}},
                {"tiers": {"bedrock_haiku": {"error_rate": 0.6, "throttle_rate": 0.6}}}, {"x": 1}):
        with pytest.raises(sim_config.ConfigError):
            sim_config.merge(cfg, bad)
    rates = cfg["tiers"]["shadow_self"]
    dice_a, dice_b, dice_c = sim_config.Dice(7), sim_config.Dice(7), sim_config.Dice(8)
    a = [dice_a.draw("shadow_self", rates) for _ in range(200)]
    assert a == [dice_b.draw("shadow_self", rates) for _ in range(200)]
    assert a != [dice_c.draw("shadow_self", rates) for _ in range(200)]
    assert 70 <= a.count("error") <= 130 and set(a) == {"error", None}
