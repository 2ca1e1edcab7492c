"""The one AWS seam: how a boto3 client is built, and how botocore's errors become ours.

boto3/botocore are imported only when a client is built or an error is mapped, so `--help` and
the SQLite paths never pay for them. Every client gets botocore's standard retry mode (throttling,
5xx and timeouts retried with backoff); attempts count the first call; timeouts are per adapter.

Vendor errors -> our tree (errors.py), in this order:

    the adapter's `special(failure)`   its own cases (a conditional write refused, a missing
                                       resource that SageMaker reports as a ValidationException, ...)
    the adapter's `codes` overrides    code -> error class
    CODES (the default)                NotFound / Conflict / BadInput by code, the union of the
                                       adapters' lists
    credentials codes                  ExternalError naming credentials and IAM
    any other ClientError              ExternalError "failed after retries"
    ReadTimeoutError                   ExternalError "timed out ... AWS may have carried it out"
                                       (the request may have been applied: never guess)
    other BotoCoreError                ExternalError "cannot reach" (endpoint, network, credentials)
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cato_migrate.errors import BadInput, CatoError, Conflict, ExternalError, NotFound

__all__ = ["CODES", "CREDENTIAL_CODES", "DYNAMODB_CODES", "AwsClients", "AwsFailure", "aws_errors", "client", "config"]

CODES: dict[str, type[CatoError]] = {
    "ResourceNotFoundException": NotFound,      # AppConfig, DynamoDB, OpenSearch Serverless
    "RepositoryNotFoundException": NotFound,    # ECR
    "ImageNotFoundException": NotFound,         # ECR
    "ConflictException": Conflict,              # AppConfig (a deployment in flight), OpenSearch Serverless
    "ResourceInUseException": Conflict,         # DynamoDB: being created or updated
    "BadRequestException": BadInput,            # AppConfig
    "ValidationException": BadInput,            # AppConfig, ECR, SageMaker
    "InvalidParameterException": BadInput,      # ECR
}
# DynamoDB answers ValidationException to a request the adapter built badly (an expression, a key):
# our bug, not the operator's input, so it stays an ExternalError there.
DYNAMODB_CODES: dict[str, type[CatoError]] = {"ValidationException": ExternalError}
CREDENTIAL_CODES = frozenset({"AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException"})

UNREACHABLE_HINT = ("on --env local run `cato-migrate sandbox up` first; otherwise check network and "
                    "credentials")
FAILED_HINT = "check AWS credentials, the region and the service's health (AWS Health Dashboard), then re-run"
CREDENTIALS_HINT = "check AWS credentials (AWS_PROFILE or the instance role) and the role's IAM permissions"
TIMEOUT_HINT = "read the current state back before re-running: the change may have been applied"


def config(*, max_attempts: int = 5, connect_timeout: float = 5.0, read_timeout: float = 15.0) -> Any:
    """botocore's Config: standard retry mode, `max_attempts` counting the first call."""
    from botocore.config import Config

    return Config(retries={"mode": "standard", "total_max_attempts": max_attempts},
                  connect_timeout=connect_timeout, read_timeout=read_timeout)


def client(service: str, *, region: str, endpoint_url: str | None = None, max_attempts: int = 5,
           connect_timeout: float = 5.0, read_timeout: float = 15.0, own_session: bool = False) -> Any:
    """A boto3 client. `own_session`: built from a new Session (boto3's default session is not safe
    to build clients from on several threads at once)."""
    import boto3

    factory = boto3.session.Session().client if own_session else boto3.client
    return factory(service, region_name=region, endpoint_url=endpoint_url or None,
                   config=config(max_attempts=max_attempts, connect_timeout=connect_timeout,
                                 read_timeout=read_timeout))


@dataclass(frozen=True)
class AwsFailure:
    """What AWS answered, without botocore types: what a `special` rule reads."""

    code: str
    message: str
    status: int
    response: dict[str, Any] = field(repr=False)


Special = Callable[[AwsFailure], BaseException | None]


def _failure(exc: Any) -> AwsFailure:
    response = getattr(exc, "response", None) or {}
    err = response.get("Error", {})
    return AwsFailure(code=err.get("Code", ""), message=err.get("Message", str(exc)),
                      status=int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0),
                      response=response)


def _from_code(f: AwsFailure, where: str, codes: Mapping[str, type[CatoError]], hints: Mapping[type[CatoError], str],
               hint: str, credentials_hint: str, details: dict[str, Any]) -> CatoError:
    details = {**details, "code": f.code}
    kind = codes.get(f.code) or CODES.get(f.code)
    if kind is ExternalError:
        kind = None  # the generic message, with the code
    if kind is not None and issubclass(kind, BadInput):
        return kind(f"{where} refused the request: {f.message}", hint=hints.get(kind), details=details)
    if kind is not None:
        return kind(f"{where}: {f.message}", hint=hints.get(kind, hint if kind is ExternalError else None),
                    details=details)
    if f.code in CREDENTIAL_CODES:
        return ExternalError(f"{where}: {f.code}: {f.message}", hint=credentials_hint, details=details)
    return ExternalError(f"{where} failed after retries: {f.code} {f.message}", hint=hint, details=details)


@contextlib.contextmanager
def aws_errors(where: str, *, special: Special | None = None, codes: Mapping[str, type[CatoError]] | None = None,
               hints: Mapping[type[CatoError], str] | None = None, hint: str = FAILED_HINT, unreachable_hint: str = UNREACHABLE_HINT,
               credentials_hint: str = CREDENTIALS_HINT, timeout_hint: str = TIMEOUT_HINT,
               endpoint: str | None = None, read_timeout: float | None = None, max_attempts: int | None = None,
               details: dict[str, Any] | None = None) -> Iterator[None]:
    """Run AWS calls inside; botocore's errors leave as our tree (see the module's docstring).
    `where` names the call for the on-call reader, e.g. "AppConfig start_deployment"; `hints`: the
    hint per error class the codes map to (what to run next: a NotFound's missing step, ...)."""
    from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

    details = details or {}
    try:
        yield
    except ClientError as exc:
        f = _failure(exc)
        mine = special(f) if special is not None else None
        raise (mine or _from_code(f, where, codes or {}, hints or {}, hint, credentials_hint, details)) from exc
    except ReadTimeoutError as exc:
        waited = f"no answer within {read_timeout:g} s after {max_attempts} attempt(s)" \
            if read_timeout is not None and max_attempts is not None else f"no answer ({exc})"
        raise ExternalError(f"{where} timed out: {waited}; AWS may have carried it out",
                            hint=timeout_hint, details=details) from exc
    except BotoCoreError as exc:
        raise ExternalError(f"{where}: cannot reach {endpoint or 'AWS'}: {exc}", hint=unreachable_hint,
                            details=details) from exc


class AwsClients:
    """An adapter's clients: built on first use, one per (service, region, endpoint), thread-safe,
    all with the adapter's retry and timeout policy."""

    def __init__(self, *, region: str, endpoint_url: str | None = None, max_attempts: int = 5,
                 connect_timeout: float = 5.0, read_timeout: float = 15.0, own_session: bool = False):
        self.region, self.endpoint_url = region, endpoint_url or None
        self.max_attempts, self.connect_timeout, self.read_timeout = max_attempts, connect_timeout, read_timeout
        self.own_session = own_session
        self._built: dict[tuple[str, str, str | None, int], Any] = {}
        self._lock = threading.Lock()

    def get(self, service: str, *, region: str | None = None, endpoint_url: str | None = None,
            max_attempts: int | None = None) -> Any:
        key = (service, region or self.region, endpoint_url or self.endpoint_url, max_attempts or self.max_attempts)
        with self._lock:
            if key not in self._built:
                self._built[key] = client(service, region=key[1], endpoint_url=key[2], max_attempts=key[3],
                                          connect_timeout=self.connect_timeout, read_timeout=self.read_timeout,
                                          own_session=self.own_session)
            return self._built[key]

    def errors(self, where: str, *, endpoint_url: str | None = None, **kw: Any) -> contextlib.AbstractContextManager[None]:
        """`aws_errors` with this policy's endpoint, read timeout and attempts filled in."""
        kw.setdefault("max_attempts", self.max_attempts)
        return aws_errors(where, endpoint=endpoint_url or self.endpoint_url, read_timeout=self.read_timeout, **kw)
