"""The one seam to DynamoDB shared by the memory stores (sessions, facts, interactions).

The stores' own client (`make_client`) is `DynamoHttp`: signed requests on the event loop, no
thread per call (`_dynamo_http.py`). A client passed in instead (the DAX client of the read path,
a boto3 client) is blocking: its calls run in a worker thread (`asyncio.to_thread`), so the event
loop never blocks on the network either way. Vendor errors map onto one small tree::

    MemoryStoreError            any DynamoDB/botocore failure (`.code` keeps the AWS error code)
     └── ConditionFailed        a conditional write lost a race (ConditionalCheckFailed, or a
                                transaction cancelled by one); callers re-read and retry
"""
from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Callable

log = logging.getLogger(__name__)

_CONDITION_CODES = {"ConditionalCheckFailedException", "TransactionCanceledException"}


class MemoryStoreError(RuntimeError):
    def __init__(self, message: str, *, code: str | None = None, item: dict | None = None):
        super().__init__(message)
        self.code = code
        self.item = item   # a failed conditional write's current item, when it asked for it


class ConditionFailed(MemoryStoreError):
    pass


def make_client(region: str, endpoint_url: str | None = None) -> Any:
    from ._dynamo_http import DynamoHttp

    return DynamoHttp(region, endpoint_url, max_attempts=3, connect_timeout_s=3, timeout_s=10)


def _map_error(exc: Exception, what: str, code: str | None, item: Any) -> MemoryStoreError:
    """Our error for a failed DynamoDB call (botocore's or DynamoHttp's, whichever read `code`)."""
    cls = ConditionFailed if code in _CONDITION_CODES else MemoryStoreError
    return cls(f"DynamoDB {what} failed: {exc}", code=code, item=item if isinstance(item, dict) else None)


async def call(client: Any, op: str, **kwargs: Any) -> dict:
    """`client.<op>(**kwargs)`: on the loop for our DynamoHttp, else in a thread; errors become
    MemoryStoreError."""
    from ._dynamo_http import DynamoHttp

    if isinstance(client, DynamoHttp):
        from orchestrator.aws_http import AwsServiceError, AwsTransportError

        try:
            return await client.call(op, kwargs)
        except AwsServiceError as exc:
            raise _map_error(exc, op, exc.code, exc.body.get("Item")) from exc
        except AwsTransportError as exc:
            raise _map_error(exc, op, None, None) from exc
    from botocore.exceptions import BotoCoreError, ClientError

    fn: Callable[..., dict] = getattr(client, op)
    try:
        return await asyncio.to_thread(fn, **kwargs)
    except (ClientError, BotoCoreError) as exc:
        response = getattr(exc, "response", None)
        response = response if isinstance(response, dict) else {}
        raise _map_error(exc, op, response.get("Error", {}).get("Code"), response.get("Item")) from exc


async def close_client(client: Any) -> None:
    """Close the store's own client (its connection pool); a client passed in is its owner's."""
    from ._dynamo_http import DynamoHttp

    if isinstance(client, DynamoHttp):
        await client.close()


async def backoff(attempt: int, base_s: float = 0.005, cap_s: float = 0.2) -> None:
    """Full-jitter pause before a retry (a conditional write that lost a race, a throttled call)."""
    await asyncio.sleep(random.uniform(0, min(cap_s, base_s * 2 ** attempt)))


async def query_all(client: Any, **kwargs: Any) -> list[dict]:
    """Every item of a Query, following LastEvaluatedKey."""
    items: list[dict] = []
    while True:
        page = await call(client, "query", **kwargs)
        items.extend(page.get("Items", []))
        last = page.get("LastEvaluatedKey")
        if not last:
            return items
        kwargs["ExclusiveStartKey"] = last


async def ensure_table(client: Any, name: str, hash_key: str, range_key: str | None = None,
                       *, ttl_attribute: str | None = None) -> None:
    """Create `name` (string keys, on-demand billing) unless it exists, wait until it is ACTIVE,
    then make sure TTL is enabled on `ttl_attribute`. Safe to call from several processes."""
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    attrs = [{"AttributeName": hash_key, "AttributeType": "S"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
        attrs.append({"AttributeName": range_key, "AttributeType": "S"})
    try:
        await call(client, "create_table", TableName=name, KeySchema=schema,
                   AttributeDefinitions=attrs, BillingMode="PAY_PER_REQUEST")
        log.info("created DynamoDB table %s", name)
    except MemoryStoreError as exc:
        if exc.code != "ResourceInUseException":
            raise
    await _wait_active(client, name)
    if ttl_attribute:
        desc = await call(client, "describe_time_to_live", TableName=name)
        status = desc.get("TimeToLiveDescription", {}).get("TimeToLiveStatus")
        if status not in ("ENABLED", "ENABLING"):
            await call(client, "update_time_to_live", TableName=name,
                       TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute})


async def _wait_active(client: Any, name: str, attempts: int = 60, delay_s: float = 1.0) -> None:
    """Until the table is ACTIVE (as boto3's `table_exists` waiter: 60 tries, 1 s apart)."""
    from ._dynamo_http import DynamoHttp

    if not isinstance(client, DynamoHttp):
        waiter = client.get_waiter("table_exists")
        await asyncio.to_thread(waiter.wait, TableName=name, WaiterConfig={"Delay": delay_s, "MaxAttempts": attempts})
        return
    for _ in range(attempts):
        try:
            desc = await call(client, "describe_table", TableName=name)
            if desc.get("Table", {}).get("TableStatus") == "ACTIVE":
                return
        except MemoryStoreError as exc:
            if exc.code != "ResourceNotFoundException":
                raise
        await asyncio.sleep(delay_s)
    raise MemoryStoreError(f"DynamoDB table {name} not ACTIVE after {attempts * delay_s:.0f} s")


def s(value: str) -> dict:
    return {"S": value}


def n(value: float | int) -> dict:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def get_s(item: dict, name: str, default: str | None = None) -> str | None:
    cell = item.get(name)
    return cell["S"] if cell and "S" in cell else default


def get_n(item: dict, name: str, default: float | None = None) -> float | None:
    cell = item.get(name)
    return float(cell["N"]) if cell and "N" in cell else default
