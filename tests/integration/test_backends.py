"""Each backend against the model simulator: answers, context, hidden states, streaming,
failure classification, and retries only for the kinds the circuit breaker counts."""
from __future__ import annotations

import asyncio
import json
import random
import urllib.request
from typing import Any, Callable, Iterator

import pytest

from cato_sandbox.model_simulator import SimulatorServer
from cato_sandbox.sim_config import Dice
from orchestrator.backends import BedrockBackend, SageMakerBackend, VllmBackend, classify, new_session
from orchestrator.backends.base import RetryingBackend
from orchestrator.ports import Backend, BackendError, Message, ModelTier, StreamUsage

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
FAST = {"base_delay_s": 0.005, "max_delay_s": 0.02}
CONTEXT = [Message("system", "You are helpful."), Message("user", "My name is Alice"),
           Message("assistant", "Nice to meet you."), Message("user", "What is my name?")]


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as srv:
        yield srv


@pytest.fixture
def sim(server: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    admin(server.url, "POST", "/admin/reset")
    return server.url


def admin(url: str, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(url + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def faults(url: str, tier: str, **settings: float) -> None:
    admin(url, "PUT", "/admin/config", {"tiers": {tier: settings}})


def requests_to(url: str, model: str) -> int:
    return admin(url, "GET", "/admin/stats")["by_model"].get(model, 0)


# kind -> (factory(url, model, tier, **kw), a model id of each tier it serves)
MAKERS: dict[str, tuple[Callable[..., RetryingBackend], dict[str, str]]] = {
    "vllm": (lambda url, model, tier, **kw: VllmBackend(url + "/v1", model, tier=tier, **kw),
             {"shadow_self": "cato-shadow-self", "bedrock_haiku": "vllm-haiku"}),
    "bedrock": (lambda url, model, tier, **kw: BedrockBackend(model, tier, "us-east-1", endpoint_url=url, **kw),
                {"shadow_self": "cato-shadow-self-br", "bedrock_haiku": HAIKU}),
    "sagemaker": (lambda url, model, tier, **kw: SageMakerBackend(model, tier, "us-east-1", endpoint_url=url, **kw),
                  {"shadow_self": "cato-shadow-self-ep", "bedrock_haiku": "haiku-ep"}),
}
KINDS = list(MAKERS)


def make(kind: str, url: str, tier: str = "bedrock_haiku", **kw: Any) -> RetryingBackend:
    factory, models = MAKERS[kind]
    return factory(url, models[tier], ModelTier(tier), **{**FAST, **kw})


async def collect(backend: Backend, messages: list[Message], **kw: Any) -> str:
    return "".join([d async for d in backend.stream(messages, **kw) if isinstance(d, str)])


async def stream_usage(backend: Backend, messages: list[Message], **kw: Any) -> StreamUsage | None:
    items = [d async for d in backend.stream(messages, **kw)]
    assert all(isinstance(d, str) for d in items[:-1])  # usage, when reported, comes last
    return items[-1] if isinstance(items[-1], StreamUsage) else None


def run(backend: RetryingBackend, coro_fn: Callable[[RetryingBackend], Any]) -> Any:
    async def go() -> Any:
        try:
            return await coro_fn(backend)
        finally:
            await backend.close()
    return asyncio.run(go())


@pytest.mark.parametrize("kind", KINDS)
def test_answers_from_context_and_stream_joins_to_the_same_text(sim, kind):
    backend = make(kind, sim)
    assert all(callable(getattr(backend, m)) for m in ("complete", "stream", "close"))

    async def go(b: RetryingBackend) -> tuple[Any, str, Any, Any]:
        return (await b.complete(CONTEXT), await collect(b, CONTEXT),
                await b.complete([Message("user", "What is my name?")]), await stream_usage(b, CONTEXT))

    done, streamed, alone, usage = run(backend, go)
    assert done.text == "Your name is Alice." and streamed == done.text
    # each wire's own usage report reaches the caller at the end of a stream (TGI has no prompt count)
    assert usage is not None and usage.output_tokens == done.output_tokens
    assert usage.input_tokens == (0 if kind == "sagemaker" else done.input_tokens)
    assert done.tier is ModelTier.BEDROCK_HAIKU and done.model_id == MAKERS[kind][1]["bedrock_haiku"]
    assert done.output_tokens == 4 and done.input_tokens > 4 and done.latency_ms > 0
    assert done.hidden_states is None
    assert "Alice" not in alone.text


@pytest.mark.parametrize("kind", KINDS)
def test_shadow_self_returns_hidden_states(sim, kind):
    async def go(b: RetryingBackend) -> Any:
        return await b.complete([Message("user", "How do rainbows form?")]), await b.complete(
            [Message("user", "How do rainbows form?")])

    first, second = run(make(kind, sim, "shadow_self"), go)
    assert first.tier is ModelTier.SHADOW_SELF
    assert first.hidden_states is not None and len(first.hidden_states) == 64
    assert first.hidden_states == second.hidden_states


def test_long_stream_has_many_deltas_and_honours_max_tokens(sim):
    async def go(b: RetryingBackend) -> tuple[list[str], Any]:
        msgs = [Message("user", "Explain the implications of quantum computing on cryptography")]
        return [d async for d in b.stream(msgs) if isinstance(d, str)], await b.complete(msgs, max_tokens=5)

    deltas, short = run(make("vllm", sim), go)
    assert len(deltas) > 10 and "".join(deltas).startswith("Answer about")
    assert short.output_tokens == 5 and "".join(deltas).startswith(short.text)


FAULT_KINDS = [("throttle_rate", "throttling"), ("error_rate", "server"),
               ("timeout_rate", "timeout"), ("content_filter_rate", "content_filter")]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rate, expected", FAULT_KINDS)
def test_error_classification_and_retries(sim, kind, rate, expected):
    faults(sim, "bedrock_haiku", **{rate: 1.0, "timeout_hang_s": 0.02})
    backend = make(kind, sim, max_attempts=3)
    model = MAKERS[kind][1]["bedrock_haiku"]

    async def go(b: RetryingBackend) -> list[BackendError]:
        errors = []
        for call in (lambda: b.complete(CONTEXT), lambda: collect(b, CONTEXT)):
            with pytest.raises(BackendError) as exc:
                await call()
            errors.append(exc.value)
        return errors

    for err in run(backend, go):
        assert err.kind == expected and err.tier is ModelTier.BEDROCK_HAIKU
        assert err.counts_for_breaker == (expected != "content_filter")
    # counted kinds: 3 attempts for complete + 3 for stream; content filter: 1 + 1
    assert requests_to(sim, model) == (2 if expected == "content_filter" else 6)


@pytest.mark.parametrize("kind", KINDS)
def test_client_errors_are_not_retried(sim, kind):
    async def go(b: RetryingBackend) -> BackendError:
        with pytest.raises(BackendError) as exc:
            await b.complete(CONTEXT, max_tokens=0)  # the API refuses it (botocore: before sending)
        return exc.value

    err = run(make(kind, sim, max_attempts=3), go)
    assert err.kind == "client" and not err.counts_for_breaker
    assert requests_to(sim, MAKERS[kind][1]["bedrock_haiku"]) <= 1


def _seed_where_first_draw_fails(rate: float) -> int:
    settings = {"throttle_rate": rate, "error_rate": 0.0, "timeout_rate": 0.0, "content_filter_rate": 0.0}
    for seed in range(1000):
        dice = Dice(seed)
        if [dice.draw("bedrock_haiku", settings) for _ in range(2)] == ["throttle", None]:
            return seed
    raise AssertionError("no seed found")


@pytest.mark.parametrize("kind", KINDS)
def test_a_retry_after_throttling_succeeds(sim, kind):
    seed = _seed_where_first_draw_fails(0.5)
    admin(sim, "PUT", "/admin/config", {"seed": seed, "tiers": {"bedrock_haiku": {"throttle_rate": 0.5}}})
    done = run(make(kind, sim, max_attempts=3), lambda b: b.complete(CONTEXT))
    assert done.text == "Your name is Alice."
    assert requests_to(sim, MAKERS[kind][1]["bedrock_haiku"]) == 2


@pytest.mark.parametrize("kind", ["vllm", "bedrock"])
def test_per_call_timeout_on_a_hanging_backend(sim, kind):
    faults(sim, "bedrock_haiku", timeout_rate=1.0, timeout_hang_s=3.0)

    async def go(b: RetryingBackend) -> tuple[BackendError, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(BackendError) as exc:
            await b.complete(CONTEXT)
        return exc.value, loop.time() - started

    err, took = run(make(kind, sim, max_attempts=2, timeout_s=0.4), go)
    assert err.kind == "timeout" and took < 2.0
    assert requests_to(sim, MAKERS[kind][1]["bedrock_haiku"]) == 2


def test_vllm_shares_one_session_and_holds_concurrency(sim):
    async def go() -> list[str]:
        async with new_session(connector_limit=16) as session:
            backend = VllmBackend(sim + "/v1", "cato-shadow-self", session=session, **FAST)
            answers = await asyncio.gather(*(backend.complete(
                [Message("user", f"My name is User{i}"), Message("user", "What is my name?")])
                for i in range(40)))
            await backend.close()
            assert not session.closed  # a shared session belongs to its creator
            return [a.text for a in answers]

    assert asyncio.run(go()) == [f"Your name is User{i}." for i in range(40)]


def test_connection_refused_is_a_counted_server_failure():
    async def go() -> BackendError:
        backend = VllmBackend("http://127.0.0.1:9", "m", max_attempts=2, **FAST)
        try:
            with pytest.raises(BackendError) as exc:
                await backend.complete([Message("user", "hi")])
            return exc.value
        finally:
            await backend.close()

    assert asyncio.run(go()).kind == "server"


def test_classify_and_backoff():
    assert classify(429) == "throttling" and classify(503) == "server" and classify(504) == "timeout"
    assert classify(400, "ServiceUnavailable") == "throttling"
    assert classify(408, "ModelTimeoutException") == "timeout"
    assert classify(400, "ValidationException", "blocked by the content filter") == "content_filter"
    assert classify(400, "ValidationException", "maxTokens too big") == "client"
    assert classify(404) == "client"
    b = VllmBackend("http://x", "m", base_delay_s=0.1, max_delay_s=0.5, rng=random.Random(1))
    delays = [[b.backoff_s(n) for _ in range(200)] for n in (1, 2, 3, 6)]
    for cap, ds in zip((0.1, 0.2, 0.4, 0.5), delays):
        assert all(0 <= d <= cap for d in ds) and max(ds) > cap * 0.8  # full jitter spans [0, cap]
