"""The model images' pure wire code (no torch, no vLLM), and that it agrees with the model simulator's
shapes, so the sandbox rehearses the contract the real containers serve."""
from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

from cato_migrate.checks.nli_accuracy import answer_label
from cato_migrate.checks.sagemaker_hidden_states import judge_shadow_answer
from cato_sandbox import sim_wire
from cato_sandbox.sim_nli import nli as sim_nli
from cato_sandbox.sim_wire import Answer

ROOT = Path(__file__).resolve().parents[2]


def load(image: str):
    spec = importlib.util.spec_from_file_location(f"{image.replace('-', '_')}_protocol",
                                                  ROOT / "images" / image / "server" / "protocol.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


shadow = load("shadow-self")
nli = load("nli")
CFG = shadow.Config.from_env({"HIDDEN_STATE_SIZE": "4", "HIDDEN_STATE_LAYER": "-1"})


def test_shadow_parses_both_request_forms_with_defaults():
    r = shadow.parse_request({"inputs": "Hello, Cato!"})
    assert r.prompt == "Hello, Cato!" and r.messages is None and r.max_new_tokens == 256 and r.hidden_states
    m = shadow.parse_request({"messages": [{"role": "user", "content": "hi"}],
                              "parameters": {"max_new_tokens": 8, "temperature": 0.7, "stop": "\n"}})
    assert m.messages == [{"role": "user", "content": "hi"}] and m.max_new_tokens == 8 and m.stop == ["\n"]


@pytest.mark.parametrize("body, why", [
    ([], "JSON object"), ({}, "'inputs'"), ({"inputs": "  "}, "'inputs'"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "role"),
    ({"inputs": "x", "parameters": {"max_new_tokens": 0}}, "max_new_tokens"),
    ({"inputs": "x", "parameters": {"temperature": "hot"}}, "temperature"),
])
def test_shadow_rejects_bad_requests(body, why):
    with pytest.raises(shadow.BadRequest, match=why):
        shadow.parse_request(body)


def test_mean_pooling_over_plain_lists_skips_padding():
    rows = [[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]
    assert shadow.pool(rows, [1, 1, 0]) == [2.0, 3.0]
    assert shadow.pool(rows, [1, 1, 0], "last") == [3.0, 4.0]
    with pytest.raises(ValueError):
        shadow.pool(rows, [0, 0, 0])
    with pytest.raises(ValueError):
        shadow.pool([[1.0], [1.0, 2.0]])


def test_layer_index_counts_from_the_embeddings():
    assert shadow.layer_index(33, -1) == 32 and shadow.layer_index(33, 0) == 0
    with pytest.raises(ValueError):
        shadow.layer_index(33, 40)


def test_config_from_env_refuses_what_it_cannot_serve():
    with pytest.raises(ValueError, match="HIDDEN_STATE_SIZE"):
        shadow.Config.from_env({})
    with pytest.raises(ValueError, match="POOLING"):
        shadow.Config.from_env({"HIDDEN_STATE_SIZE": "8", "HIDDEN_STATE_POOLING": "max"})


def test_shadow_response_has_the_simulators_shape_and_passes_the_exit_check():
    body = shadow.response(CFG, "Hi there.", "stop", 5, 3, [0.1, -0.2, 0.3, 0.4])
    sim = sim_wire.sagemaker_generated("cato-shadow-self", Answer(
        "Hi there.", ["Hi", " there."], "stop", 5, "shadow_self",
        {"hidden_states": [0.1, -0.2, 0.3, 0.4],
         "hidden_state_layers": {"layer": -1, "pooling": "mean", "size": 4, "source": "prompt"}}))
    assert set(body) == set(sim) and set(body["usage"]) == set(sim["usage"])
    assert body["hidden_state_layers"] == sim["hidden_state_layers"]
    assert judge_shadow_answer(body, 4)[0] == []


def test_shadow_never_answers_a_bad_vector():
    with pytest.raises(ValueError, match="HIDDEN_STATE_SIZE is 4"):
        shadow.response(CFG, "x", "stop", 1, 1, [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        shadow.response(CFG, "x", "stop", 1, 1, [0.1, math.nan, 0.2, 0.3])
    no_hidden = shadow.response(CFG, "x", "length", 1, 1, None)
    assert "hidden_states" not in no_hidden and no_hidden["finish_reason"] == "length"


def test_nli_parses_both_forms_and_rejects_the_rest():
    assert nli.parse_request({"premise": "a", "hypothesis": "b"}) == ("a", "b")
    assert nli.parse_request({"inputs": {"text": "a", "text_pair": "b"}}) == ("a", "b")
    for bad in ([], {"premise": "a"}, {"inputs": "a"}, {"premise": "", "hypothesis": "b"}):
        with pytest.raises(nli.BadRequest):
            nli.parse_request(bad)


def test_nli_response_maps_the_checkpoints_labels_and_matches_the_simulator():
    order = nli.label_order({0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"})  # deberta-large-mnli
    body = nli.response([4.0, 0.5, -1.0], order)
    assert body["label"] == "contradiction" and math.isclose(sum(body["scores"].values()), 1.0, abs_tol=1e-5)
    sim = sim_nli("The user lives in Paris.", "The user lives in Rome.")
    assert set(body) == set(sim) and set(body["scores"]) == set(sim["scores"])
    assert answer_label(body) == "contradiction"
    with pytest.raises(ValueError):
        nli.label_order({0: "yes", 1: "no", 2: "maybe"})


def test_simulator_endpoint_faults_are_validated_and_count_down():
    from cato_sandbox.sim_config import ConfigError, default_config, merge
    from cato_sandbox.sim_state import Simulator

    cfg = merge(default_config(), {"endpoint_faults": {"ep": "nli_flip"}})
    assert cfg["endpoint_faults"] == {"ep": {"mode": "nli_flip", "remaining": None}}
    for bad in ({"ep": "melt"}, {"ep": {"mode": "nli_flip", "remaining": 0}}, ["ep"]):
        with pytest.raises(ConfigError):
            merge(default_config(), {"endpoint_faults": bad})
    sim = Simulator({"endpoint_faults": {"ep": {"mode": "no_hidden_states", "remaining": 2}}})
    assert [sim.take_endpoint_fault("ep") for _ in range(3)] == ["no_hidden_states", "no_hidden_states", None]
    assert sim.take_endpoint_fault("other") is None
    sim.reset()
    assert sim.take_endpoint_fault("ep") == "no_hidden_states"  # reset goes back to the start-up config


def test_simulator_fault_bodies_spoil_only_what_they_name():
    body = {"generated_text": "hi", "hidden_states": [0.1, 0.2], "layer": -1, "pooling": "mean",
            "hidden_state_layers": {}}
    assert "hidden_states" not in sim_wire.endpoint_fault_body("no_hidden_states", body)
    assert sim_wire.endpoint_fault_body("constant_hidden_states", body)["hidden_states"] == [0.125, 0.125]
    assert math.isnan(sim_wire.endpoint_fault_body("nan_hidden_states", body)["hidden_states"][0])
    assert sim_wire.endpoint_fault_body(None, body) is body and body["hidden_states"] == [0.1, 0.2]
    flipped = sim_wire.endpoint_fault_body("nli_flip", sim_nli("I like tea and cake", "I like tea"))
    assert flipped["label"] == "contradiction" and flipped["scores"]["contradiction"] == 0.9
