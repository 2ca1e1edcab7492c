"""The hot path's AWS client without boto3 (orchestrator/aws_http.py, memory/_dynamo_http.py,
backends/aws.py), against a tiny aiohttp server on 127.0.0.1: what goes on the wire (SigV4
signature, target, body, path), DynamoDB's retries, the error mapping onto MemoryStoreError /
ConditionFailed / BackendError. No moto, no simulator: each test scripts the server's answers.

The signature is checked against an independent SigV4 computation (hashlib/hmac, the spec's
steps) over what the server actually received, so a header that aiohttp sends differently from
what botocore signed (host, path encoding) fails here as it would fail at AWS.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import socket
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator
from urllib.parse import quote

import pytest
from aiohttp import web
from botocore.credentials import Credentials

from cato_sandbox.sim_eventstream import CONTENT_TYPE as EVENT_STREAM
from cato_sandbox.sim_eventstream import event, exception
from orchestrator.aws_http import AwsServiceError, AwsTransportError, error_of
from orchestrator.backends import BedrockBackend
from orchestrator.memory._dynamo import ConditionFailed, MemoryStoreError, call
from orchestrator.memory._dynamo_http import DynamoHttp
from orchestrator.ports import BackendError, Message, ModelTier

CREDS = Credentials("AKID", "SECRET")
AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=AKID/(\d{8})/us-east-1/(\w+)/aws4_request, "
                  r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")
THROTTLE = (400, {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "slow down"})
VALIDATION = (400, {"__type": "com.amazonaws.dynamodb.v20120810#ValidationException", "message": "bad key"})
OK = (200, {})


# -- a scripted server ---------------------------------------------------------------------------

@asynccontextmanager
async def serve(answers: list[Any]) -> AsyncIterator[tuple[str, list[dict]]]:
    """A server answering its requests with `answers` in order (the last one repeats): a
    (status, json) pair, or a callable making the response. Yields (url, received requests)."""
    seen: list[dict] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append({"method": request.method, "raw_path": request.raw_path, "headers": request.headers.copy(),
                     "body": await request.read()})
        answer = answers[min(len(seen), len(answers)) - 1]
        if callable(answer):
            return await answer(request)
        status, payload = answer
        return web.json_response(payload, status=status, content_type="application/x-amz-json-1.0")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dynamo(url: str, **kwargs: Any) -> DynamoHttp:
    return DynamoHttp("us-east-1", url, credentials=CREDS, base_delay_s=0.001, **kwargs)


async def dynamo_call(answers: list[Any], op: str, params: dict, **kwargs: Any) -> tuple[Any, list[dict]]:
    """(the answer or the exception raised, the requests the server received)."""
    async with serve(answers) as (url, seen):
        client = dynamo(url, **kwargs)
        try:
            result: Any = await client.call(op, params)
        except Exception as exc:  # noqa: BLE001 - the test asserts on it
            result = exc
        finally:
            await client.close()
    return result, seen


def sigv4(received: dict, service: str, secret: str = "SECRET") -> str:
    """The SigV4 signature of a received request, computed from the spec (not botocore):
    canonical request -> string to sign -> HMAC chain. Non-S3 services encode the path twice."""
    headers, amz_date = received["headers"], received["headers"]["X-Amz-Date"]
    signed = AUTH.match(headers["Authorization"]).group(3).split(";")  # type: ignore[union-attr]
    canonical = "\n".join([
        received["method"], quote(received["raw_path"], safe="/~"), "",
        "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed),
        ";".join(signed), hashlib.sha256(received["body"]).hexdigest()])
    scope = f"{amz_date[:8]}/us-east-1/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (amz_date[:8], "us-east-1", service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


# -- 1. what goes on the wire --------------------------------------------------------------------

ITEM = {"TableName": "t", "Item": {"pk": {"S": "a"}, "n": {"N": "1"}, "text": {"S": "héllo"}}}


def test_put_item_is_signed_and_carries_target_and_exact_body():
    result, seen = asyncio.run(dynamo_call([OK], "put_item", ITEM))
    assert result == {}
    (got,) = seen
    assert got["method"] == "POST" and got["raw_path"] == "/"
    assert got["headers"]["X-Amz-Target"] == "DynamoDB_20120810.PutItem"
    assert got["headers"]["Content-Type"] == "application/x-amz-json-1.0"
    assert json.loads(got["body"]) == ITEM
    match = AUTH.match(got["headers"]["Authorization"])
    assert match, got["headers"]["Authorization"]
    date, service, signed, signature = match.groups()
    assert service == "dynamodb"
    assert re.fullmatch(r"\d{8}T\d{6}Z", got["headers"]["X-Amz-Date"])
    assert got["headers"]["X-Amz-Date"].startswith(date)
    assert {"host", "x-amz-date", "x-amz-target", "content-type"} <= set(signed.split(";"))
    assert signature == sigv4(got, "dynamodb")


def test_signature_covers_the_body():
    _, first = asyncio.run(dynamo_call([OK], "put_item", ITEM))
    _, second = asyncio.run(dynamo_call([OK], "put_item", {**ITEM, "TableName": "u"}))
    sig = [AUTH.match(s[0]["headers"]["Authorization"]).group(4) for s in (first, second)]  # type: ignore[union-attr]
    assert sig[0] != sig[1]
    # a tampered body no longer matches the signature sent
    assert sigv4({**second[0], "body": first[0]["body"]}, "dynamodb") != sig[1]


# -- 2. retries ----------------------------------------------------------------------------------

def test_throttling_is_retried_until_success():
    result, seen = asyncio.run(dynamo_call([THROTTLE, THROTTLE, OK], "get_item", {"TableName": "t"},
                                           max_attempts=3))
    assert result == {} and len(seen) == 3


def test_throttling_past_max_attempts_raises_with_its_code():
    result, seen = asyncio.run(dynamo_call([THROTTLE], "get_item", {"TableName": "t"}, max_attempts=3))
    assert isinstance(result, AwsServiceError)
    assert (result.status, result.code, result.message) == (400, "ThrottlingException", "slow down")
    assert len(seen) == 3


def test_each_retry_is_signed_afresh_with_the_same_body():
    _, seen = asyncio.run(dynamo_call([THROTTLE, OK], "put_item", ITEM, max_attempts=3))
    assert len(seen) == 2
    assert seen[0]["body"] == seen[1]["body"]
    assert all(s["headers"]["Authorization"] and sigv4(s, "dynamodb") in s["headers"]["Authorization"] for s in seen)


def test_validation_error_is_not_retried():
    result, seen = asyncio.run(dynamo_call([VALIDATION, OK], "get_item", {"TableName": "t"}, max_attempts=3))
    assert isinstance(result, AwsServiceError) and result.code == "ValidationException"
    assert len(seen) == 1


def test_server_error_is_retried():
    result, seen = asyncio.run(dynamo_call([(500, {"message": "oops"}), OK], "get_item", {"TableName": "t"},
                                           max_attempts=3))
    assert result == {} and len(seen) == 2


# -- 3. transactions -----------------------------------------------------------------------------

def test_transact_write_items_keeps_one_client_request_token_across_retries():
    params = {"TransactItems": [{"Put": ITEM}]}
    result, seen = asyncio.run(dynamo_call([THROTTLE, THROTTLE, OK], "transact_write_items", params,
                                           max_attempts=3))
    assert result == {} and len(seen) == 3
    tokens = {json.loads(s["body"])["ClientRequestToken"] for s in seen}
    assert len(tokens) == 1 and all(tokens)
    assert all(s["headers"]["X-Amz-Target"] == "DynamoDB_20120810.TransactWriteItems" for s in seen)
    assert "ClientRequestToken" not in params  # the caller's dict is left alone


def test_transact_write_items_keeps_a_token_the_caller_gave():
    params = {"TransactItems": [{"Put": ITEM}], "ClientRequestToken": "mine"}
    _, seen = asyncio.run(dynamo_call([OK], "transact_write_items", params))
    assert json.loads(seen[0]["body"])["ClientRequestToken"] == "mine"


# -- 4. the memory stores' error tree ------------------------------------------------------------

async def store_call(url: str, **kwargs: Any) -> Exception | dict:
    client = dynamo(url, max_attempts=2)
    try:
        return await call(client, "put_item", **kwargs)
    except Exception as exc:  # noqa: BLE001 - the test asserts on it
        return exc
    finally:
        await client.close()


async def store_call_served(answers: list[Any]) -> tuple[Exception | dict, list[dict]]:
    async with serve(answers) as (url, seen):
        return await store_call(url, **ITEM), seen


def test_conditional_check_failed_is_condition_failed_with_the_current_item():
    current = {"pk": {"S": "a"}, "version": {"N": "7"}}
    answer = (400, {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                    "message": "The conditional request failed", "Item": current})
    exc, seen = asyncio.run(store_call_served([answer]))
    assert isinstance(exc, ConditionFailed)
    assert exc.code == "ConditionalCheckFailedException" and exc.item == current
    assert len(seen) == 1  # a lost race is the caller's to handle, not retried here


def test_other_service_error_is_memory_store_error_not_condition_failed():
    answer = (400, {"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                    "message": "Requested resource not found"})
    exc, _ = asyncio.run(store_call_served([answer]))
    assert isinstance(exc, MemoryStoreError) and not isinstance(exc, ConditionFailed)
    assert exc.code == "ResourceNotFoundException" and exc.item is None


def test_connection_refused_is_memory_store_error_after_the_retries():
    exc = asyncio.run(store_call(f"http://127.0.0.1:{closed_port()}", **ITEM))
    assert isinstance(exc, MemoryStoreError) and not isinstance(exc, ConditionFailed)
    assert isinstance(exc.__cause__, AwsTransportError) and not exc.__cause__.timeout


# -- 5. error answers ----------------------------------------------------------------------------

def test_error_code_from_the_header_drops_the_namespace():
    exc = error_of(429, {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"},
                   b'{"message":"Too many requests"}')
    assert (exc.status, exc.code, exc.message) == (429, "ThrottlingException", "Too many requests")


def test_error_code_from_the_body_type_or_code():
    assert error_of(400, {}, b'{"__type":"com.amazon.coral.validate#ValidationException","Message":"x"}').code \
        == "ValidationException"
    assert error_of(400, {}, b'{"code":"throttlingException","message":"m"}').code == "ThrottlingException"


def test_non_json_error_body_still_gives_a_message():
    exc = error_of(502, {}, b"<html>502 Bad Gateway</html>")
    assert exc.status == 502 and exc.code == "" and "502 Bad Gateway" in exc.message and exc.body == {}
    assert error_of(500, {}, b"[1, 2]").message == "[1, 2]"


def test_error_header_is_read_case_insensitively_off_the_wire():
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=400, body=b'{"message":"slow"}',
                            headers={"x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/"})

    result, seen = asyncio.run(dynamo_call([answer], "get_item", {"TableName": "t"}, max_attempts=2))
    assert isinstance(result, AwsServiceError) and result.code == "ThrottlingException"
    assert len(seen) == 2  # and so it was retried as throttling


# -- 6. the Bedrock backend ----------------------------------------------------------------------

@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def stream_answer(*frames: bytes):
    async def answer(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": EVENT_STREAM})
        await resp.prepare(request)
        for frame in frames:   # one write per frame, as the service sends them
            await resp.write(frame)
        await resp.write_eof()
        return resp
    return answer


async def bedrock_stream(answers: list[Any]) -> tuple[list[Any], Exception | None, list[dict]]:
    async with serve(answers) as (url, seen):
        backend = BedrockBackend("m.id:0", ModelTier.BEDROCK_HAIKU, "us-east-1", endpoint_url=url, max_attempts=1)
        got: list[Any] = []
        error: Exception | None = None
        try:
            async for delta in backend.stream([Message("user", "hi")]):
                got.append(delta)
        except Exception as exc:  # noqa: BLE001 - the test asserts on it
            error = exc
        finally:
            await backend.close()
    return got, error, seen


def test_in_stream_exception_event_is_throttling_backend_error(aws_env):
    answer = stream_answer(event("messageStart", {"role": "assistant"}),
                           event("contentBlockDelta", {"delta": {"text": "Hel"}, "contentBlockIndex": 0}),
                           exception("throttlingException", "slow"))
    got, error, seen = asyncio.run(bedrock_stream([answer]))
    assert got == ["Hel"]
    assert isinstance(error, BackendError) and error.kind == "throttling"
    assert "slow" in str(error)
    assert len(seen) == 1 and seen[0]["raw_path"].endswith("/converse-stream")
    assert seen[0]["headers"]["Accept"] == EVENT_STREAM


def test_stream_reads_events_through_to_usage(aws_env):
    answer = stream_answer(event("contentBlockDelta", {"delta": {"text": "a"}, "contentBlockIndex": 0})
                           + event("contentBlockDelta", {"delta": {"text": "b"}, "contentBlockIndex": 0}),
                           event("messageStop", {"stopReason": "max_tokens"}),
                           event("metadata", {"usage": {"inputTokens": 3, "outputTokens": 2}}))
    got, error, _ = asyncio.run(bedrock_stream([answer]))
    assert error is None
    assert got[:2] == ["a", "b"]
    usage = got[2]
    assert (usage.input_tokens, usage.output_tokens, usage.finish_reason) == (3, 2, "length")


REPLY = {"output": {"message": {"role": "assistant", "content": [{"text": "hello"}]}},
         "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 1}}


async def bedrock_complete(answers: list[Any]) -> tuple[Any, list[dict]]:
    async with serve(answers) as (url, seen):
        backend = BedrockBackend("m.id:0", ModelTier.BEDROCK_HAIKU, "us-east-1", endpoint_url=url, max_attempts=1)
        try:
            return await backend.complete([Message("user", "hi")]), seen
        finally:
            await backend.close()


def test_converse_answer_is_read_and_the_model_id_is_not_in_the_body(aws_env):
    completion, seen = asyncio.run(bedrock_complete([(200, REPLY)]))
    assert completion.text == "hello" and completion.finish_reason == "stop"
    (got,) = seen
    assert "modelId" not in json.loads(got["body"])
    match = AUTH.match(got["headers"]["Authorization"])
    assert match and match.group(2) == "bedrock"


def test_converse_path_keeps_the_model_id_encoded_and_signed(aws_env):
    _, seen = asyncio.run(bedrock_complete([(200, REPLY)]))
    (got,) = seen
    assert got["raw_path"] == "/model/m.id%3A0/converse"
    signature = AUTH.match(got["headers"]["Authorization"]).group(4)  # type: ignore[union-attr]
    assert signature == sigv4(got, "bedrock")  # the path AWS would canonicalise is the path signed


def test_bedrock_error_answer_is_classified(aws_env):
    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=400, body=b'{"message":"Too many tokens, please wait"}',
                            headers={"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/"})

    async def run() -> Exception:
        async with serve([answer]) as (url, _):
            backend = BedrockBackend("m.id:0", ModelTier.BEDROCK_HAIKU, "us-east-1", endpoint_url=url,
                                     max_attempts=1)
            try:
                await backend.complete([Message("user", "hi")])
            except Exception as exc:  # noqa: BLE001 - the test asserts on it
                return exc
            finally:
                await backend.close()
        raise AssertionError("no error")

    error = asyncio.run(run())
    assert isinstance(error, BackendError) and error.kind == "throttling" and error.status == 400
