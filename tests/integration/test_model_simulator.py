"""The model simulator over real wire protocols: unchanged boto3 (bedrock-runtime,
sagemaker-runtime), OpenAI JSON and SSE over aiohttp, the admin API and its faults."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import aiohttp
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cato_sandbox.components import REGISTRY
from cato_sandbox.model_simulator import SimulatorServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as srv:
        yield srv


@pytest.fixture
def sim(server: SimulatorServer) -> str:
    admin(server.url, "POST", "/admin/reset")
    return server.url


def admin(url: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, method=method, data=data,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def aws(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"total_max_attempts": 1}, read_timeout=10))


def bedrock_messages(*turns: str) -> list[dict]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": [{"text": t}]}
            for i, t in enumerate(turns)]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def post_json(url: str, body: dict) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(url, json=body) as r:
        return r.status, await r.json()


# --- Bedrock --------------------------------------------------------------------------------

def test_bedrock_converse_answers_from_the_history(sim):
    br = aws("bedrock-runtime", sim)
    resp = br.converse(modelId=HAIKU, system=[{"text": "You are helpful."}],
                       messages=bedrock_messages("My name is Alice", "Hello!", "What is my name?"),
                       inferenceConfig={"maxTokens": 64, "temperature": 0.0})
    assert resp["output"]["message"] == {"role": "assistant", "content": [{"text": "Your name is Alice."}]}
    assert resp["stopReason"] == "end_turn"
    usage = resp["usage"]
    assert usage["outputTokens"] == 4 and usage["totalTokens"] == usage["inputTokens"] + 4
    assert resp["metrics"]["latencyMs"] >= 0
    alone = br.converse(modelId=HAIKU, messages=bedrock_messages("What is my name?"))
    assert "Alice" not in alone["output"]["message"]["content"][0]["text"]


def test_bedrock_converse_stream_deltas_join_to_the_answer(sim):
    br = aws("bedrock-runtime", sim)
    msgs = bedrock_messages("Explain how tides work")
    full = br.converse(modelId=HAIKU, messages=msgs)["output"]["message"]["content"][0]["text"]
    events = list(br.converse_stream(modelId=HAIKU, messages=msgs)["stream"])
    assert list(events[0]) == ["messageStart"] and list(events[-1]) == ["metadata"]
    deltas = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
    assert len(deltas) > 3 and "".join(deltas) == full
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}


@pytest.mark.parametrize("rate, code, status", [
    ("throttle_rate", "ThrottlingException", 429), ("error_rate", "InternalServerException", 500),
    ("timeout_rate", "ModelTimeoutException", 408), ("content_filter_rate", "ValidationException", 400)])
def test_bedrock_faults_in_restjson_form(sim, rate, code, status):
    admin(sim, "PUT", "/admin/config", {"tiers": {"bedrock_haiku": {rate: 1, "timeout_hang_s": 0.05}}})
    with pytest.raises(ClientError) as exc:
        aws("bedrock-runtime", sim).converse(modelId=HAIKU, messages=bedrock_messages("hi"))
    assert exc.value.response["Error"]["Code"] == code
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    if rate == "content_filter_rate":
        assert "content filter" in exc.value.response["Error"]["Message"]


def test_bedrock_bad_request_is_a_validation_exception(sim):
    with pytest.raises(ClientError) as exc:
        aws("bedrock-runtime", sim).converse(modelId=HAIKU, messages=[
            {"role": "assistant", "content": [{"text": "only me"}]}])
    assert exc.value.response["Error"]["Code"] == "ValidationException"


# --- SageMaker ------------------------------------------------------------------------------

def test_sagemaker_invoke_endpoint_shadow_self(sim):
    admin(sim, "PUT", "/admin/config", {"hidden_size": 32, "hidden_layer": 20})
    sm = aws("sagemaker-runtime", sim)
    body = {"messages": [{"role": "user", "content": "I live in Oslo"},
                         {"role": "assistant", "content": "ok"},
                         {"role": "user", "content": "Where do I live?"}]}
    resp = sm.invoke_endpoint(EndpointName="cato-shadow-self", ContentType="application/json",
                              Body=json.dumps(body))
    out = json.loads(resp["Body"].read())
    assert out["generated_text"] == "You live in Oslo."
    assert len(out["hidden_states"]) == 32 and out["layer"] == 20 and out["pooling"] == "mean"
    again = json.loads(sm.invoke_endpoint(EndpointName="cato-shadow-self",
                                          Body=json.dumps(body))["Body"].read())
    assert again["hidden_states"] == out["hidden_states"]  # deterministic


def test_sagemaker_inputs_form_nli_and_stream(sim):
    sm = aws("sagemaker-runtime", sim)
    plain = json.loads(sm.invoke_endpoint(EndpointName="llm", Body=json.dumps(
        {"inputs": "What is 6 times 7?", "parameters": {"max_new_tokens": 20}}))["Body"].read())
    assert plain["generated_text"] == "The answer is 42." and "hidden_states" not in plain
    label = json.loads(sm.invoke_endpoint(EndpointName="cato-nli", Body=json.dumps(
        {"premise": "The user lives in Paris.", "hypothesis": "The user lives in Rome."}))["Body"].read())
    assert label["label"] == "contradiction"
    hf = json.loads(sm.invoke_endpoint(EndpointName="cato-nli", Body=json.dumps(
        {"inputs": {"text": "I like tea and cake", "text_pair": "I like tea"}}))["Body"].read())
    assert hf["label"] == "entailment"
    stream = sm.invoke_endpoint_with_response_stream(
        EndpointName="llm", Body=json.dumps({"inputs": "What is 6 times 7?"}))
    parts = [e["PayloadPart"]["Bytes"] for e in stream["Body"]]
    tokens = [json.loads(p[5:])["token"]["text"] for p in parts]
    assert "".join(tokens) == "The answer is 42."


def test_sagemaker_runtime_wraps_container_failures_in_model_error(sim):
    admin(sim, "PUT", "/admin/config", {"tiers": {"shadow_self": {"error_rate": 1}}})
    with pytest.raises(ClientError) as exc:
        aws("sagemaker-runtime", sim).invoke_endpoint(EndpointName="ep", Body=b'{"inputs": "hi"}')
    resp = exc.value.response
    assert resp["Error"]["Code"] == "ModelError" and resp["OriginalStatusCode"] == 500
    admin(sim, "PUT", "/admin/config", {"tiers": {"shadow_self": {"error_rate": 0, "throttle_rate": 1}}})
    with pytest.raises(ClientError) as exc:
        aws("sagemaker-runtime", sim).invoke_endpoint(EndpointName="ep", Body=b'{"inputs": "hi"}')
    assert exc.value.response["Error"]["Code"] == "ThrottlingException"


def test_container_contract_ping_and_invocations(sim):
    with urllib.request.urlopen(sim + "/ping") as r:
        assert r.status == 200
    status, out = run(post_json(sim + "/invocations", {"inputs": "hello there"}))
    assert status == 200 and len(out["hidden_states"]) == 64 and out["pooling"] == "mean"
    assert "layer" in out and out["generated_text"].startswith("Answer about")
    admin(sim, "PUT", "/admin/config", {"tiers": {"shadow_self": {"content_filter_rate": 1}}})
    status, out = run(post_json(sim + "/invocations", {"inputs": "hello there"}))
    assert status == 400 and out["code"] == "content_filter"


# --- OpenAI / vLLM --------------------------------------------------------------------------

def test_openai_chat_completion_shape(sim):
    status, out = run(post_json(sim + "/v1/chat/completions", {
        "model": "cato-shadow-self", "messages": [
            {"role": "user", "content": "My name is Bob"}, {"role": "assistant", "content": "Hi Bob"},
            {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]}]}))
    assert status == 200
    assert {"id", "object", "created", "model", "choices", "usage", "hidden_states",
            "hidden_state_layers"} <= set(out)
    assert out["object"] == "chat.completion" and out["model"] == "cato-shadow-self"
    choice = out["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Your name is Bob."}
    assert choice["finish_reason"] == "stop" and choice["index"] == 0
    assert out["usage"]["completion_tokens"] == 4
    assert out["usage"]["total_tokens"] == out["usage"]["prompt_tokens"] + 4
    assert len(out["hidden_states"]) == 64


def test_openai_sse_stream(sim):
    body = {"model": HAIKU, "messages": [{"role": "user", "content": "Describe the water cycle"}],
            "stream": True, "stream_options": {"include_usage": True}}

    async def go() -> tuple[str, list[str]]:
        async with aiohttp.ClientSession() as s:
            async with s.post(sim + "/v1/chat/completions", json={**body, "stream": False}) as r:
                full = (await r.json())["choices"][0]["message"]["content"]
            async with s.post(sim + "/v1/chat/completions", json=body) as r:
                assert r.headers["Content-Type"].startswith("text/event-stream")
                return full, [ln.decode().strip() async for ln in r.content if ln.strip()]

    full, lines = run(go())
    assert all(ln.startswith("data: ") for ln in lines) and lines[-1] == "data: [DONE]"
    chunks = [json.loads(ln[6:]) for ln in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == full
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


def test_openai_max_tokens_and_errors(sim):
    status, out = run(post_json(sim + "/v1/chat/completions", {
        "model": "m", "max_tokens": 3, "messages": [{"role": "user", "content": "Explain photosynthesis"}]}))
    assert out["choices"][0]["finish_reason"] == "length" and out["usage"]["completion_tokens"] == 3
    status, out = run(post_json(sim + "/v1/chat/completions", {"model": "m", "messages": []}))
    assert status == 400 and out["error"]["type"] == "invalid_request_error"
    status, out = run(post_json(sim + "/v1/chat/completions", {
        "model": "m", "messages": [{"role": "user", "content": "SIM_FAULT:content_filter hi"}]}))
    assert status == 400 and out["error"]["code"] == "content_filter"
    with urllib.request.urlopen(sim + "/v1/models") as r:
        assert any(m["id"] == "cato-shadow-self" for m in json.loads(r.read())["data"])


# --- admin ----------------------------------------------------------------------------------

def _statuses(url: str, n: int) -> list[int]:
    async def go() -> list[int]:
        out = []
        async with aiohttp.ClientSession() as s:
            for i in range(n):
                async with s.post(url + "/v1/chat/completions", json={
                        "model": "sonnet", "messages": [{"role": "user", "content": f"q {i}"}]}) as r:
                    out.append(r.status)
        return out
    return run(go())


def test_fault_rates_are_reproducible_with_a_seed(sim):
    config = {"seed": 42, "tiers": {"bedrock_sonnet": {"error_rate": 0.2, "throttle_rate": 0.1}}}
    admin(sim, "PUT", "/admin/config", config)
    first = _statuses(sim, 200)
    assert 25 <= first.count(500) <= 55 and 8 <= first.count(429) <= 35
    assert set(first) == {200, 429, 500}
    admin(sim, "PUT", "/admin/config", config)  # a PUT re-seeds: the same sequence again
    assert _statuses(sim, 200) == first
    stats = admin(sim, "GET", "/admin/stats")
    assert stats["by_tier"] == {"bedrock_sonnet": 400} and stats["by_api"] == {"openai": 400}
    assert stats["faults"]["bedrock_sonnet"]["error"] == 2 * first.count(500)
    admin(sim, "PUT", "/admin/config", {"seed": 43})
    assert _statuses(sim, 200) != first


def test_admin_config_validation_and_reset(sim):
    cfg = admin(sim, "GET", "/admin/config")
    assert cfg["tiers"]["shadow_self"]["ttft_ms"] == 0 and cfg["hidden_size"] == 64
    with pytest.raises(urllib.error.HTTPError) as exc:
        admin(sim, "PUT", "/admin/config", {"tiers": {"bedrock_haiku": {"error_rate": 1.5}}})
    assert exc.value.code == 400
    admin(sim, "PUT", "/admin/config", {"tiers": {"*": {"error_rate": 0.5}}})
    assert admin(sim, "POST", "/admin/reset")["tiers"]["bedrock_haiku"]["error_rate"] == 0
    assert admin(sim, "GET", "/admin/stats")["requests"] == 0


def test_latency_and_timeout_hang(sim):
    admin(sim, "PUT", "/admin/config", {"tiers": {"bedrock_haiku": {"ttft_ms": 150, "per_token_ms": 20}}})
    started = time.monotonic()
    run(post_json(sim + "/v1/chat/completions", {
        "model": "haiku", "messages": [{"role": "user", "content": "What is 2+2?"}]}))
    assert time.monotonic() - started >= 0.15 + 3 * 0.02 - 0.01  # "The answer is 4." = 4 tokens
    admin(sim, "PUT", "/admin/config", {"tiers": {"bedrock_haiku": {
        "ttft_ms": 0, "per_token_ms": 0, "timeout_rate": 1, "timeout_hang_s": 0.3}}})
    started = time.monotonic()
    status, out = run(post_json(sim + "/v1/chat/completions", {
        "model": "haiku", "messages": [{"role": "user", "content": "hi"}]}))
    assert status == 504 and time.monotonic() - started >= 0.29


# --- the process and the sandbox registry ---------------------------------------------------

def test_cli_process_and_sandbox_component(tmp_path):
    from tests.integration.conftest import free_port, wait_http

    comp = next(c for c in REGISTRY if c.name == "simulator")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "cato_sandbox.model_simulator",
                             "--host", "127.0.0.1", "--port", str(port), "--seed", "9"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/ping", timeout=20, proc=proc)
        assert comp.health(url, port) and comp.prerequisite() is None
        assert admin(url, "GET", "/admin/config")["seed"] == 9
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not comp.health(url, port)
