"""The chat request as clients send it: what is accepted, and every malformed request refused
with a 4xx in OpenAI's shape naming the parameter (before any model call)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from orchestrator.api_errors import ApiError
from orchestrator.chat_request import SESSION_TURN_MAX_BYTES, parse_chat
from orchestrator.models_catalog import LEGACY_ALIASES, ModelCatalog
from orchestrator.ports import Message, ModelTier

U = [{"role": "user", "content": "hi"}]


def ok(body, **kw):
    return parse_chat(body, **kw)


def test_the_conversation_is_kept_in_order_with_system_developer_and_parts():
    req = ok({"model": "claude-3-haiku", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
        {"role": "user", "content": "My name is Alice."},
        {"role": "assistant", "content": "Nice to meet you, Alice."},
        {"role": "user", "content": [{"type": "text", "text": "What is"}, {"type": "text", "text": "my name?"}]}]})
    assert req.messages == (Message("system", "Be brief."), Message("system", "Answer in English."),
                            Message("user", "My name is Alice."), Message("assistant", "Nice to meet you, Alice."),
                            Message("user", "What is\nmy name?"))
    assert req.query == "What is\nmy name?"
    assert req.client_history == (Message("user", "My name is Alice."), Message("assistant", "Nice to meet you, Alice."))
    assert [m.content for m in req.system] == ["Be brief.", "Answer in English."]


def test_parameters_are_read():
    req = ok({"messages": U, "max_completion_tokens": 50, "max_tokens": 20, "temperature": 0.5, "top_p": 0.9,
              "stop": "END", "stream": True, "stream_options": {"include_usage": True}, "user": "u-1", "n": 1,
              "metadata": {"domain": "shadow"}}, session_header="sess-1")
    s = req.sampling
    assert (s.max_tokens, s.temperature, s.top_p, s.stop) == (50, 0.5, 0.9, ("END",))
    assert req.stream and req.include_usage and req.user == "u-1" and req.domain == "shadow"
    assert req.session_id == "sess-1" and req.model == "cato"


def test_the_user_is_the_session_without_a_header_and_nulls_mean_not_given():
    req = ok({"messages": U, "user": "alice", "temperature": None, "stop": None, "tools": None})
    assert req.session_id == "alice" and req.sampling.temperature == 0.0 and req.sampling.stop == ()


def test_harmless_defaults_are_accepted_and_unsupported_parameters_named_or_dropped():
    assert ok({"messages": U, "presence_penalty": 0, "logprobs": False, "store": False})
    with pytest.raises(ApiError) as e:
        ok({"messages": U, "tools": [{"type": "function", "function": {"name": "f"}}]})
    assert e.value.status == 400 and e.value.param == "tools" and e.value.code == "unsupported_parameter"
    dropped = ok({"messages": U, "tools": [], "response_format": {"type": "json_object"}, "frobnicate": 1},
                 drop_params=True)
    assert set(dropped.dropped) == {"tools", "response_format", "frobnicate"}


def test_a_session_turn_too_large_to_keep_is_413_without_a_session_it_is_served():
    big = "x" * (SESSION_TURN_MAX_BYTES + 1)
    with pytest.raises(ApiError) as e:
        ok({"messages": [{"role": "user", "content": big}], "user": "u"})
    assert e.value.status == 413
    assert ok({"messages": [{"role": "user", "content": big}]}).query == big


BAD: list[tuple[str, object, dict, str | None]] = [
    # (case, body, parse kwargs, param named)
    ("array body", [], {}, None),
    ("string body", "hello", {}, None),
    ("number body", 3, {}, None),
    ("null body", None, {}, None),
    ("no messages", {"model": "cato"}, {}, "messages"),
    ("messages not a list", {"messages": "hi"}, {}, "messages"),
    ("empty messages", {"messages": []}, {}, "messages"),
    ("message not an object", {"messages": ["hi"]}, {}, "messages[0]"),
    ("unknown role", {"messages": [{"role": "wizard", "content": "hi"}]}, {}, "messages[0].role"),
    ("role not a string", {"messages": [{"role": 5, "content": "hi"}]}, {}, "messages[0].role"),
    ("tool role without tools", {"messages": [{"role": "tool", "content": "x"}]}, {}, "messages[0].role"),
    ("empty content", {"messages": [{"role": "user", "content": ""}]}, {}, "messages[0].content"),
    ("blank content", {"messages": [{"role": "user", "content": "   "}]}, {}, "messages[0].content"),
    ("missing content", {"messages": [{"role": "user"}]}, {}, "messages[0].content"),
    ("content a number", {"messages": [{"role": "user", "content": 42}]}, {}, "messages[0].content"),
    ("empty parts", {"messages": [{"role": "user", "content": []}]}, {}, "messages[0].content"),
    ("image part", {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]}, {}, "messages[0].content[0].type"),
    ("part text not a string", {"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}, {},
     "messages[0].content[0].text"),
    ("part not an object", {"messages": [{"role": "user", "content": ["hi"]}]}, {}, "messages[0].content[0].type"),
    ("last turn from the assistant", {"messages": [{"role": "user", "content": "a"},
                                                   {"role": "assistant", "content": "b"}]}, {}, "messages[1].role"),
    ("only a system message", {"messages": [{"role": "system", "content": "be nice"}]}, {}, "messages[0].role"),
    ("max_tokens a word", {"messages": U, "max_tokens": "abc"}, {}, "max_tokens"),
    ("max_tokens NaN", {"messages": U, "max_tokens": float("nan")}, {}, "max_tokens"),
    ("max_tokens 1e400", {"messages": U, "max_tokens": float("inf")}, {}, "max_tokens"),
    ("max_tokens -1", {"messages": U, "max_tokens": -1}, {}, "max_tokens"),
    ("max_tokens 0", {"messages": U, "max_tokens": 0}, {}, "max_tokens"),
    ("max_tokens a float", {"messages": U, "max_tokens": 12.5}, {}, "max_tokens"),
    ("max_tokens a list", {"messages": U, "max_tokens": [1]}, {}, "max_tokens"),
    ("max_tokens true", {"messages": U, "max_tokens": True}, {}, "max_tokens"),
    ("max_tokens over the cap", {"messages": U, "max_tokens": 10**9}, {}, "max_tokens"),
    ("max_completion_tokens a word", {"messages": U, "max_completion_tokens": "x"}, {}, "max_completion_tokens"),
    ("temperature 5", {"messages": U, "temperature": 5}, {}, "temperature"),
    ("temperature a word", {"messages": U, "temperature": "hot"}, {}, "temperature"),
    ("temperature NaN", {"messages": U, "temperature": float("nan")}, {}, "temperature"),
    ("top_p 0", {"messages": U, "top_p": 0}, {}, "top_p"),
    ("top_p 1.5", {"messages": U, "top_p": 1.5}, {}, "top_p"),
    ("stop a number", {"messages": U, "stop": 5}, {}, "stop"),
    ("stop five strings", {"messages": U, "stop": ["a", "b", "c", "d", "e"]}, {}, "stop"),
    ("stop empty string", {"messages": U, "stop": [""]}, {}, "stop"),
    ("stream a string", {"messages": U, "stream": "false"}, {}, "stream"),
    ("stream_options a list", {"messages": U, "stream_options": []}, {}, "stream_options"),
    ("include_usage a string", {"messages": U, "stream_options": {"include_usage": "yes"}}, {},
     "stream_options.include_usage"),
    ("n 2", {"messages": U, "n": 2}, {}, "n"),
    ("n a word", {"messages": U, "n": "one"}, {}, "n"),
    ("user an object", {"messages": U, "user": {}}, {}, "user"),
    ("user a list", {"messages": U, "user": []}, {}, "user"),
    ("user a number", {"messages": U, "user": 123}, {}, "user"),
    ("user over 256 bytes", {"messages": U, "user": "u" * 257}, {}, "user"),
    ("user with a newline", {"messages": U, "user": "a\nb"}, {}, "user"),
    ("metadata a list", {"messages": U, "metadata": []}, {}, "metadata"),
    ("domain a list", {"messages": U, "metadata": {"domain": ["x"]}}, {}, "metadata.domain"),
    ("domain a number", {"messages": U, "metadata": {"domain": 7}}, {}, "metadata.domain"),
    ("domain too long", {"messages": U, "metadata": {"domain": "d" * 65}}, {}, "metadata.domain"),
    ("model a number", {"messages": U, "model": 3}, {}, "model"),
    ("model empty", {"messages": U, "model": ""}, {}, "model"),
    ("session id over 256 bytes", {"messages": U}, {"session_header": "s" * 257}, "x-session-id"),
    ("session id with a control character", {"messages": U}, {"session_header": "a\x01b"}, "x-session-id"),
    ("session id of 2 KB", {"messages": U}, {"session_header": "é" * 1024}, "x-session-id"),
    ("unsupported tools", {"messages": U, "tools": [{"type": "function"}]}, {}, "tools"),
    ("unsupported response_format", {"messages": U, "response_format": {"type": "json_object"}}, {},
     "response_format"),
    ("unknown parameter", {"messages": U, "frobnicate": True}, {}, "frobnicate"),
    ("non-default presence_penalty", {"messages": U, "presence_penalty": 1.0}, {}, "presence_penalty"),
]


@pytest.mark.parametrize("case,body,kwargs,param", BAD, ids=[c[0] for c in BAD])
def test_malformed_requests_are_400_in_openai_shape(case, body, kwargs, param):
    with pytest.raises(ApiError) as e:
        parse_chat(body, **kwargs)
    err = e.value
    assert err.status == 400, case
    shape = err.body()["error"]
    assert set(shape) == {"message", "type", "param", "code"} and shape["type"] == "invalid_request_error"
    assert shape["message"] and json.dumps(shape)  # serialisable, says something
    assert shape["param"] == param


def test_at_least_forty_malformed_requests_are_covered():
    assert len(BAD) >= 40


def test_the_catalog_pins_every_name_litellm_serves_routes_cato_and_404s_the_rest():
    litellm_names = {m["model_name"] for m in yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "config" / "litellm.yaml").read_text())["model_list"]}
    assert litellm_names == set(LEGACY_ALIASES)
    catalog = ModelCatalog(LEGACY_ALIASES)
    assert catalog.resolve("claude-3-haiku") is ModelTier.BEDROCK_HAIKU
    assert catalog.resolve("claude-3-5-sonnet") is ModelTier.BEDROCK_SONNET
    assert catalog.resolve("shadow_self") is ModelTier.SHADOW_SELF
    assert catalog.resolve("cato") is None and catalog.resolve("auto") is None
    with pytest.raises(ApiError) as e:
        catalog.resolve("gpt-4o")
    assert e.value.status == 404 and e.value.code == "model_not_found" and e.value.param == "model"
    ids = [m["id"] for m in catalog.listing()["data"]]
    assert {"cato", "auto", "claude-3-haiku", "claude-3-5-sonnet"} <= set(ids)
