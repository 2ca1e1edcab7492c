"""AWS calls on the hot path without boto3: SigV4-signed requests over one pooled aiohttp session.

Why: boto3 is blocking, so every Bedrock, SageMaker and DynamoDB call took a worker thread.
Threads made convoys (a 64-thread pool holds 64 model calls; the 65th waits for one to end),
contended for the GIL, and botocore's per-call machinery (hooks, serialisers, urllib3) cost
2-3 ms of CPU per call on this machine. Here a call is one aiohttp request on the event loop,
signed as botocore's `SigV4Auth` signs (orchestrator/sigv4.py: the same headers, the day's key kept), with credentials from
botocore's credential chain (environment, profile, IRSA web identity on EKS, instance role),
refreshed as botocore refreshes them. botocore is imported on first use only.

Errors: a service's answer >= 300 is an `AwsServiceError` (status, code, message, the parsed
body); a connection failure or a timeout is an `AwsTransportError`. Callers map both onto their
own error tree (BackendError for models, MemoryStoreError for DynamoDB).
"""
from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator

import aiohttp
import yarl

# service -> (SigV4 signing name, endpoint host prefix), as botocore's service models name them
SERVICES = {"bedrock-runtime": ("bedrock", "bedrock-runtime"),
            "sagemaker-runtime": ("sagemaker", "runtime.sagemaker"),
            "dynamodb": ("dynamodb", "dynamodb")}


class AwsTransportError(Exception):
    """The request got no answer: connection refused or cut, or no answer within the timeout."""

    def __init__(self, message: str, *, timeout: bool = False):
        super().__init__(message)
        self.timeout = timeout


class AwsServiceError(Exception):
    """The service answered with an error status."""

    def __init__(self, status: int, code: str, message: str, body: dict):
        super().__init__(f"{code or 'error'} ({status}): {message}")
        self.status, self.code, self.message, self.body = status, code, message, body


@dataclass
class AwsResponse:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}


def error_of(status: int, headers: Any, body: bytes) -> AwsServiceError:
    """An error answer in the shapes AWS JSON services use: the code in `x-amzn-ErrorType`
    ("ThrottlingException:http://...") or the body's `__type` ("com.amazonaws...#Code") or
    `code`; the message in the body's `message` or `Message`."""
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    code = error_code(headers.get("x-amzn-ErrorType") or data.get("__type") or data.get("code") or "")
    message = str(data.get("message") or data.get("Message") or body[:200].decode("utf-8", "replace"))
    return AwsServiceError(status, code, message, data)


def error_code(raw: object) -> str:
    """An AWS error code as botocore names it: "ThrottlingException" from the header form
    "ThrottlingException:http://...", the body form "com.amazonaws...#ThrottlingException", or the
    in-stream form "throttlingException"."""
    code = str(raw).split(":", 1)[0].rsplit("#", 1)[-1]
    return code[:1].upper() + code[1:]


class AwsHttp:
    """Signed requests to one AWS service in one region, over one pooled session.

    The session is made on first use inside the running loop (a replica's loop), sized by
    `max_connections`: unlike a thread pool, a connection waits only for the network, so the
    pool can hold as many calls as the replica admits.
    """

    def __init__(self, service: str, region: str, endpoint_url: str | None = None, *,
                 timeout_s: float = 30.0, connect_timeout_s: float = 10.0, max_connections: int = 1024,
                 credentials: Any = None):
        signing_name, prefix = SERVICES[service]
        self.service, self.region, self.signing_name = service, region, signing_name
        self.endpoint = (endpoint_url or f"https://{prefix}.{region}.amazonaws.com").rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self.max_connections = max_connections
        self._credentials = credentials
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- signing -------------------------------------------------------------------------------
    def credentials(self) -> Any:
        """botocore's credential chain, resolved once (refreshable credentials refresh themselves)."""
        if self._credentials is None:
            import botocore.session

            self._credentials = botocore.session.get_session().get_credentials()
            if self._credentials is None:
                raise AwsTransportError("no AWS credentials found (environment, profile, web identity "
                                        "or instance role)")
        return self._credentials

    def signed_headers(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        from orchestrator.sigv4 import sign

        creds = self.credentials().get_frozen_credentials()
        return sign(method, url, body, headers, access_key=creds.access_key, secret_key=creds.secret_key,
                    token=creds.token, region=self.region, service=self.signing_name)

    def warm(self) -> None:
        """Resolve credentials and import the signer now (a replica's warm-up), not on a request."""
        self.signed_headers("POST", self.endpoint + "/", b"{}", {})

    # -- requests ------------------------------------------------------------------------------
    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # a session belongs to the loop it was made in: one per loop (a replica has one loop;
            # a CLI check may run several `asyncio.run`s on the same store)
            self._loop = loop
            connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=self.max_connections,
                                             keepalive_timeout=30.0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False,
                                                  timeout=aiohttp.ClientTimeout(total=None),
                                                  skip_auto_headers=("User-Agent",))
        return self._session

    @asynccontextmanager
    async def open(self, method: str, path: str, body: bytes, headers: dict[str, str], *,
                   timeout: aiohttp.ClientTimeout | None = None) -> AsyncIterator[aiohttp.ClientResponse]:
        """A signed request whose answer is read by the caller (an event stream); an error answer
        is raised as AwsServiceError before the caller sees it."""
        url = self.endpoint + path
        signed = self.signed_headers(method, url, body, headers)
        try:
            # encoded=True: the path goes out byte for byte as signed (yarl would decode "%3A" in a model id)
            async with self.session().request(method, yarl.URL(url, encoded=True), data=body, headers=signed,
                                              timeout=timeout or self.timeout) as resp:
                if resp.status >= 300:
                    raise error_of(resp.status, resp.headers, await resp.read())
                yield resp
        except asyncio.TimeoutError as exc:
            raise AwsTransportError(f"no answer from {self.service} within the timeout", timeout=True) from exc
        except aiohttp.ClientError as exc:
            raise AwsTransportError(f"{type(exc).__name__}: {exc}") from exc

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> AwsResponse:
        """A signed request, read whole; an error answer raises AwsServiceError."""
        async with self.open(method, path, body, headers) as resp:
            try:
                raw = await resp.read()
            except asyncio.TimeoutError as exc:
                raise AwsTransportError(f"{self.service} answer cut off by the timeout", timeout=True) from exc
            except aiohttp.ClientError as exc:
                raise AwsTransportError(f"{type(exc).__name__}: {exc}") from exc
            return AwsResponse(resp.status, raw)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
