"""DynamoDB's JSON protocol (`x-amz-json-1.0`, `X-Amz-Target: DynamoDB_20120810.<Op>`) over
signed aiohttp requests (orchestrator/aws_http.py): the memory stores' client in production.

Parameters and answers are DynamoDB's wire JSON, which is exactly the shape of boto3's low-level
client (`{"S": ...}`, `{"N": "1"}`, ...), so the stores' calls read the same either way. Retries
follow botocore's "standard" mode, which the boto3 client used: up to `max_attempts` attempts
for throttling, transient errors, 5xx and connections that got no answer, with full-jitter
backoff; each attempt is signed afresh. TransactWriteItems gets a ClientRequestToken (botocore
fills one in too), so a retried transaction is applied once.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from orchestrator.aws_http import AwsHttp, AwsServiceError, AwsTransportError

from ._dynamo import backoff

_RETRYABLE = {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
              "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
              "LimitExceededException", "TransactionInProgressException", "RequestTimeout",
              "RequestTimeoutException", "PriorRequestNotComplete", "InternalServerError",
              "ServiceUnavailable"}
_JSON_10 = "application/x-amz-json-1.0"


def target(op: str) -> str:
    """boto3's method name -> the API's operation: put_item -> DynamoDB_20120810.PutItem."""
    return "DynamoDB_20120810." + "".join(part.capitalize() for part in op.split("_"))


def retryable(exc: AwsServiceError | AwsTransportError) -> bool:
    if isinstance(exc, AwsTransportError):
        return True
    return exc.code in _RETRYABLE or exc.status >= 500


class DynamoHttp:
    def __init__(self, region: str, endpoint_url: str | None = None, *, max_attempts: int = 3,
                 timeout_s: float = 10.0, connect_timeout_s: float = 3.0, max_connections: int = 256,
                 base_delay_s: float = 0.025, max_delay_s: float = 1.0, credentials: Any = None):
        self.http = AwsHttp("dynamodb", region, endpoint_url, timeout_s=timeout_s,
                            connect_timeout_s=connect_timeout_s, max_connections=max_connections,
                            credentials=credentials)
        self.max_attempts, self.base_delay_s, self.max_delay_s = max_attempts, base_delay_s, max_delay_s

    async def call(self, op: str, params: dict[str, Any]) -> dict:
        """One DynamoDB operation; raises AwsServiceError / AwsTransportError after the retries."""
        if op == "transact_write_items" and "ClientRequestToken" not in params:
            params = {**params, "ClientRequestToken": uuid.uuid4().hex}
        body = json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": _JSON_10, "X-Amz-Target": target(op)}
        for attempt in range(1, self.max_attempts + 1):
            try:
                return (await self.http.request("POST", "/", body, headers)).json()
            except (AwsServiceError, AwsTransportError) as exc:
                if attempt == self.max_attempts or not retryable(exc):
                    raise
            await backoff(attempt, self.base_delay_s, self.max_delay_s)
        raise AssertionError("unreachable")

    def warm(self) -> None:
        self.http.warm()

    async def close(self) -> None:
        await self.http.close()
