"""Drop-in conformance: the official `openai` SDK, unchanged but for its base URL, against the
legacy LiteLLM proxy and against the orchestrator, both in front of the same model simulator.

Every case runs on both targets. Where they agree, one assertion covers both; where they differ,
each side's own behaviour is asserted (EXPECTED_STATUS below) and README.md's "Drop-in
conformance" table says why. Real parts: the sandbox's LiteLLM (.venv-litellm), the
orchestrator's FastAPI app over uvicorn (tests/orch_http.py), the simulator, Redis and moto.
"""
from __future__ import annotations

import json

import openai
import pytest

from cato_sandbox.components import LITELLM_VENV
from cato_sandbox.manager import SandboxSettings, load_sandbox_state, sandbox_down, sandbox_up
from tests.openai_targets import TARGETS, Target, error_of, orchestrator_config

pytestmark = pytest.mark.integration
HAS_LITELLM = (LITELLM_VENV / "bin" / "litellm").exists()
HAIKU, SONNET = "claude-3-haiku", "claude-3-5-sonnet"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """One sandbox for both targets: the orchestrator's stores and the legacy proxy."""
    settings = SandboxSettings(state_dir=tmp_path_factory.mktemp("conformance") / ".cato-migrate",
                               components=["moto", "redis", "simulator", *(["litellm"] if HAS_LITELLM else [])])
    sandbox_up(settings)
    try:
        yield settings.state_dir, load_sandbox_state(settings.state_dir)
    finally:
        sandbox_down(settings)


@pytest.fixture(scope="module")
def litellm_target(sandbox):
    if not HAS_LITELLM:
        pytest.skip(f"the LiteLLM proxy is not installed in {LITELLM_VENV}: run `make setup`")
    state_dir, state = sandbox
    url = next(c["url"] for c in state["components"] if c["name"] == "litellm")
    target = Target("litellm", url, (state_dir / "litellm.key").read_text().strip())
    yield target
    target.close()


@pytest.fixture(scope="module")
def orchestrator_target(sandbox):
    from tests.orch_http import ServeAppServer

    state_dir, state = sandbox
    key = (state_dir / "litellm.key").read_text().strip() if HAS_LITELLM else "sk-conformance"
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    try:
        with ServeAppServer(orchestrator_config(state, key)) as srv:
            target = Target("orchestrator", srv.url, key)
            yield target
            target.close()
    finally:
        mp.undo()


@pytest.fixture(params=TARGETS)
def target(request) -> Target:
    return request.getfixturevalue(f"{request.param}_target")


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _usage_ok(usage) -> None:
    assert usage is not None
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


# --- completions ------------------------------------------------------------------------------

def test_plain_completion(target):
    reply = target.client().chat.completions.create(model=HAIKU, messages=_user("What is 2+2?"))
    assert reply.object == "chat.completion" and reply.id
    assert reply.model == HAIKU  # the alias the client sent, not the backend's id
    [choice] = reply.choices
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert choice.message.content == "The answer is 4."  # the simulator's answer, unaltered


@pytest.mark.parametrize("alias,tier", [(HAIKU, "bedrock_haiku"), (SONNET, "bedrock_sonnet")])
def test_an_alias_pins_its_tier(target, alias, tier):
    # the simulator's generic answer names the tier that produced it; same prompt for both aliases
    reply = target.client().chat.completions.create(model=alias, messages=_user("Tell me about lighthouses."))
    assert reply.model == alias
    assert f", {tier})" in reply.choices[0].message.content


def test_streamed_deltas_join_to_the_non_streamed_text(target):
    sdk = target.client()
    prompt = _user("Tell me about the ocean.")
    chunks = list(sdk.chat.completions.create(model=HAIKU, messages=prompt, stream=True))  # SDK eats [DONE]
    whole = sdk.chat.completions.create(model=HAIKU, messages=prompt).choices[0].message.content
    assert all(c.object == "chat.completion.chunk" and c.model == HAIKU for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1  # really streamed
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert all(c.usage is None for c in chunks)  # no usage unless asked for


def test_system_prompt_reaches_the_model(target):
    reply = target.client().chat.completions.create(model=HAIKU, messages=[
        {"role": "system", "content": "The user's name is Bob."}, *_user("What is my name?")])
    assert "Bob" in reply.choices[0].message.content


def test_client_sent_history_reaches_the_model(target):
    reply = target.client().chat.completions.create(model=HAIKU, messages=[
        {"role": "user", "content": "My name is Alice."},
        {"role": "assistant", "content": "Nice to meet you, Alice."},
        {"role": "user", "content": "What is my name?"}])
    assert "Alice" in reply.choices[0].message.content


def test_content_as_a_list_of_text_parts(target):
    reply = target.client().chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is"}, {"type": "text", "text": "3+4?"}]}])
    assert reply.choices[0].message.content == "The answer is 7."


def test_usage_counts_the_text(target):
    sdk = target.client()
    short = sdk.chat.completions.create(model=HAIKU, messages=_user("What is 5+6?"))
    long = sdk.chat.completions.create(model=HAIKU, messages=_user(
        "Please, after thinking about it for a while, tell me: what is 5+6?"))
    _usage_ok(short.usage)
    _usage_ok(long.usage)
    assert long.usage.prompt_tokens > short.usage.prompt_tokens  # counted from the text, not a constant
    assert short.usage.completion_tokens == len(short.choices[0].message.content.split())


def test_usage_in_a_stream(target):
    chunks = list(target.client().chat.completions.create(
        model=HAIKU, messages=_user("Tell me about rivers."), stream=True, stream_options={"include_usage": True}))
    with_usage = [c for c in chunks if c.usage is not None]
    assert with_usage == [chunks[-1]]  # the last chunk, and only it
    _usage_ok(chunks[-1].usage)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage.completion_tokens == len(text.split())  # the simulator's count of what streamed
    # OpenAI's usage chunk has `choices: []`; LiteLLM sends one choice with an empty delta
    last_choices = [c.delta.content for c in chunks[-1].choices]
    assert last_choices == ({"litellm": [None], "orchestrator": []}[target.name])


def test_a_repeated_question(target):
    sdk = target.client()
    first, again = (sdk.chat.completions.create(model=HAIKU, messages=_user("What is 12+30?")) for _ in range(2))
    assert first.choices[0].message.content == again.choices[0].message.content == "The answer is 42."
    _usage_ok(first.usage)
    if target.name == "litellm":  # no cache: the model is asked again, and counts again
        assert again.usage == first.usage
    else:  # the semantic cache answers; no tokens were used, and `cato` says what was saved
        cato = again.model_extra["cato"]
        assert cato["cached"] is True
        assert (again.usage.prompt_tokens, again.usage.completion_tokens, again.usage.total_tokens) == (0, 0, 0)
        assert cato["cache"]["usage_saved"] == first.usage.model_dump(exclude_none=True)


@pytest.mark.parametrize("extra", [
    {"foo": 1},
    {"tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]},
], ids=["unknown parameter", "tools"])
def test_parameters_no_tier_honours_are_dropped(target, extra):
    # drop_params on both (config/litellm.yaml; the orchestrator's config here): LiteLLM passes
    # them to a provider that may honour them; the orchestrator drops them and says so
    reply = target.client().chat.completions.create(model=HAIKU, messages=_user("What is 8+8?"), extra_body=extra)
    assert reply.choices[0].message.content == "The answer is 16." and not reply.choices[0].message.tool_calls
    if target.name == "orchestrator":
        assert reply.model_extra["cato"]["dropped_params"] == list(extra)


# --- models -----------------------------------------------------------------------------------

def test_models_list_and_retrieve(target):
    sdk = target.client()
    ids = [m.id for m in sdk.models.list()]
    assert {HAIKU, SONNET} <= set(ids)
    assert all(m.object == "model" for m in sdk.models.list())
    if target.name == "orchestrator":
        assert {"cato", "auto"} <= set(ids)  # routed by complexity; LiteLLM has no such names
    else:
        assert sorted(ids) == sorted([HAIKU, SONNET])  # config/litellm.yaml's model_list, nothing else
    model = sdk.models.retrieve(HAIKU)
    assert model.id == HAIKU and model.object == "model"
    with pytest.raises(openai.NotFoundError) as err:
        sdk.models.retrieve("gpt-nope")
    if target.name == "orchestrator":
        assert error_of(err.value.response)["code"] == "model_not_found"
    else:  # FastAPI's default shape, not OpenAI's
        assert set(err.value.response.json()) == {"detail"}


# --- errors -----------------------------------------------------------------------------------

# Observed status per case and target; README.md's conformance table says why they differ.
EXPECTED_STATUS = {
    "wrong key": {"litellm": 400, "orchestrator": 401},
    "missing key": {"litellm": 500, "orchestrator": 401},
    "unknown model": {"litellm": 400, "orchestrator": 404},
    "max_tokens='abc'": {"litellm": 400, "orchestrator": 400},
    "n=2": {"litellm": 200, "orchestrator": 400},
    "temperature=5": {"litellm": 200, "orchestrator": 400},
    "empty messages": {"litellm": 400, "orchestrator": 400},
    "JSON array body": {"litellm": 500, "orchestrator": 400},
    "body not JSON": {"litellm": 400, "orchestrator": 400},
    "no model": {"litellm": 400, "orchestrator": 200},
}
# The orchestrator's error (code, param) where the README names them.
ORCHESTRATOR_ERROR = {
    "wrong key": ("invalid_api_key", None), "missing key": ("missing_api_key", None),
    "unknown model": ("model_not_found", "model"), "max_tokens='abc'": (None, "max_tokens"),
    "n=2": (None, "n"), "temperature=5": (None, "temperature"), "empty messages": (None, "messages"),
    "JSON array body": ("invalid_type", None),
}
SDK_ERROR = {400: openai.BadRequestError, 401: openai.AuthenticationError, 404: openai.NotFoundError,
             500: openai.InternalServerError}


def _send(target: Target, case: str):
    """(http response, SDK exception or None) for one error case."""
    if case == "missing key":
        return target.post_raw("/v1/chat/completions", body=json.dumps(
            {"model": HAIKU, "messages": _user("hi")}).encode()), None
    if case == "JSON array body":
        return target.post_raw("/v1/chat/completions", key=target.key, body=json.dumps(
            [{"model": HAIKU, "messages": _user("hi")}]).encode()), None
    if case == "body not JSON":
        return target.post_raw("/v1/chat/completions", key=target.key, body=b"{not json"), None
    if case == "no model":
        return target.post_raw("/v1/chat/completions", key=target.key, body=json.dumps(
            {"messages": _user("What is 1+1?")}).encode()), None
    kwargs = {"model": HAIKU, "messages": _user("hi")}
    key = None
    if case == "wrong key":
        key = "sk-not-the-key"
    elif case == "unknown model":
        kwargs["model"] = "gpt-nope"
    elif case == "max_tokens='abc'":
        kwargs["extra_body"] = {"max_tokens": "abc"}
    elif case == "n=2":
        kwargs["n"] = 2
    elif case == "temperature=5":
        kwargs["temperature"] = 5
    elif case == "empty messages":
        kwargs["messages"] = []
    try:
        return target.client(key).chat.completions.with_raw_response.create(**kwargs).http_response, None
    except openai.APIStatusError as exc:
        return exc.response, exc


@pytest.mark.parametrize("case", list(EXPECTED_STATUS))
def test_error_statuses(target, case):
    response, exc = _send(target, case)
    expected = EXPECTED_STATUS[case][target.name]
    assert response.status_code == expected, response.text
    if exc is not None:
        assert type(exc) is SDK_ERROR[expected]  # what the client catches
    if expected == 200:  # LiteLLM passes n and temperature on; the orchestrator routes a request with no model
        doc = response.json()
        assert len(doc["choices"]) == 1 and doc["choices"][0]["message"]["content"]
        if case == "no model":
            assert doc["model"] == doc["cato"]["tier"]  # routed as "cato": `model` names the tier that served
    elif target.name == "orchestrator":  # OpenAI's error shape, always
        error = error_of(response)
        assert error is not None and set(error) == {"message", "type", "param", "code"}, response.text
        assert error["message"] and error["code"]
        code, param = ORCHESTRATOR_ERROR.get(case, (None, None))
        assert (code or error["code"], param) == (error["code"], error["param"]), response.text
    elif expected == 500:  # LiteLLM's error handler itself fails (no prisma, no database)
        assert error_of(response) is None and response.text == "Internal Server Error"
    else:
        error = error_of(response)
        assert error["message"] and error["code"] == "400", response.text  # the status, as a string
        if case == "wrong key":
            assert error["type"] == "no_db_connection"
