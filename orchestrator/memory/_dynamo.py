"""The one seam to DynamoDB shared by the memory stores (sessions, facts, interactions).

boto3 is imported lazily (the orchestrator's import stays cheap) and every call runs in a worker
thread (`asyncio.to_thread`), so the event loop never blocks on the network. Vendor errors map
onto one small tree::

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
    import boto3  # lazy: only the adapters pay for it
    from botocore.config import Config

    return boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url,
                        config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                      connect_timeout=3, read_timeout=10))


def _map_error(exc: Exception, what: str) -> MemoryStoreError:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    cls = ConditionFailed if code in _CONDITION_CODES else MemoryStoreError
    item = response.get("Item") if isinstance(response, dict) else None
    return cls(f"DynamoDB {what} failed: {exc}", code=code, item=item)


async def call(client: Any, op: str, **kwargs: Any) -> dict:
    """Run `client.<op>(**kwargs)` in a thread; botocore errors become MemoryStoreError."""
    from botocore.exceptions import BotoCoreError, ClientError

    fn: Callable[..., dict] = getattr(client, op)
    try:
        return await asyncio.to_thread(fn, **kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise _map_error(exc, op) from exc


async def backoff(attempt: int, base_s: float = 0.005, cap_s: float = 0.2) -> None:
    """Full-jitter pause before retrying a conditional write that lost a race."""
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
    waiter = client.get_waiter("table_exists")
    await asyncio.to_thread(waiter.wait, TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    if ttl_attribute:
        desc = await call(client, "describe_time_to_live", TableName=name)
        status = desc.get("TimeToLiveDescription", {}).get("TimeToLiveStatus")
        if status not in ("ENABLED", "ENABLING"):
            await call(client, "update_time_to_live", TableName=name,
                       TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute})


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
