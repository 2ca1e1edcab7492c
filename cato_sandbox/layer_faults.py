"""Planted AWS faults for the sandbox's AWS stand-in layers (AppConfig, DynamoDB).

Admin endpoint (not AWS), on each layer::

    POST   /_cato/faults  {"operation": "StartDeployment" | "*", "kind": "throttle" | "5xx" | "timeout",
                           "count": N (matching requests that fail; -1 = until cleared),
                           "delay_seconds": S (timeout only; default 10)}
    GET    /_cato/faults  the rules, what is left of each, and per operation how many requests were
                          seen and how many got which fault
    DELETE /_cato/faults  clears the rules and the counters

A throttle is answered the way the service throttles (AppConfig: 429 ThrottlingException;
DynamoDB: 400 ProvisionedThroughputExceededException) and a 5xx as its 500 internal error, so
botocore classifies and retries them as it would against AWS. A timeout holds the request for
`delay_seconds` and then serves it normally: the client gave up, but the change may have been made,
as with AWS. Rules apply in the order they were added; the first with requests left wins.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

from cato_sandbox.appconfig_moto import Reply

PATH = "/_cato/faults"
KINDS = ("throttle", "5xx", "timeout")
Protocol = Literal["rest-json", "json-1.0"]
# (status, code) per protocol and kind; the json-1.0 code is prefixed with the service's namespace
_ERRORS: dict[tuple[str, str], tuple[int, str]] = {
    ("rest-json", "throttle"): (429, "ThrottlingException"),
    ("rest-json", "5xx"): (500, "InternalServerException"),
    ("json-1.0", "throttle"): (400, "ProvisionedThroughputExceededException"),
    ("json-1.0", "5xx"): (500, "InternalServerError"),
}


@dataclass
class Fault:
    id: int
    operation: str
    kind: str
    count: int          # what is left; -1 = until cleared
    delay_seconds: float

    def matches(self, operation: str) -> bool:
        return self.count != 0 and (self.operation == "*" or self.operation == operation)


class FaultBook:
    """The planted rules and what they did; thread-safe (the layers serve a thread per request)."""

    def __init__(self, protocol: Protocol, json_namespace: str = "",
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.protocol, self.json_namespace, self.sleep = protocol, json_namespace, sleep
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._next = 1
        self._seen: dict[str, int] = {}
        self._injected: dict[str, dict[str, int]] = {}

    # -- admin --------------------------------------------------------------------------------
    def admin(self, method: str, path: str, body: bytes) -> Reply | None:
        """The admin endpoint's answer, or None when the request is not for it."""
        if path.split("?", 1)[0] != PATH:
            return None
        if method == "POST":
            try:
                rule = self.add(**_parse(body))
            except ValueError as e:
                return Reply(400, {"message": str(e)})
            return Reply(201, {"fault": asdict(rule)})
        if method == "DELETE":
            self.clear()
        elif method != "GET":
            return Reply(405, {"message": f"{method} {PATH}: use GET, POST or DELETE"})
        return Reply(200, self.report())

    def add(self, operation: str, kind: str, count: int = -1, delay_seconds: float = 10.0) -> Fault:
        with self._lock:
            rule = Fault(self._next, operation, kind, count, float(delay_seconds))
            self._next += 1
            self._rules.append(rule)
            return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._seen.clear()
            self._injected.clear()

    def report(self) -> dict:
        with self._lock:
            return {"faults": [asdict(r) for r in self._rules if r.count != 0],
                    "spent": [asdict(r) for r in self._rules if r.count == 0],
                    "seen": dict(self._seen),
                    "injected": {op: dict(k) for op, k in self._injected.items()}}

    # -- the request path -------------------------------------------------------------------
    def take(self, operation: str | None) -> Fault | None:
        """Count the request; the fault it gets (one of its rule's requests used up), or None.
        `operation` None is the layer's own endpoint (health, reset): never counted nor faulted."""
        if operation is None:
            return None
        op = operation
        with self._lock:
            self._seen[op] = self._seen.get(op, 0) + 1
            rule = next((r for r in self._rules if r.matches(operation)), None)
            if rule is None:
                return None
            if rule.count > 0:
                rule.count -= 1
            per = self._injected.setdefault(op, {})
            per[rule.kind] = per.get(rule.kind, 0) + 1
            return rule

    def intercept(self, operation: str | None) -> Reply | None:
        """What a request for `operation` gets instead of its answer: an error reply, or None to be
        served (after holding it for a timeout fault's delay)."""
        fault = self.take(operation)
        if fault is None:
            return None
        if fault.kind == "timeout":
            self.sleep(fault.delay_seconds)
            return None
        return self.error(fault, operation or "?")

    def error(self, fault: Fault, operation: str) -> Reply:
        """The AWS error a throttle or 5xx fault answers with."""
        status, code = _ERRORS[(self.protocol, fault.kind)]
        message = f"sandbox fault #{fault.id}: {fault.kind} planted on {fault.operation} ({operation})"
        if self.protocol == "rest-json":
            body = {"__type": code, "message": message}
            return Reply(status, body, {"x-amzn-ErrorType": code})
        body = {"__type": f"{self.json_namespace}#{code}" if self.json_namespace else code, "message": message}
        return Reply(status, json.dumps(body).encode(),
                     {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": code})


def _parse(body: bytes) -> dict:
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        raise ValueError("body is not JSON") from None
    if not isinstance(doc, dict):
        raise ValueError("body must be a JSON object")
    unknown = set(doc) - {"operation", "kind", "count", "delay_seconds"}
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    op, kind = doc.get("operation"), doc.get("kind")
    if not isinstance(op, str) or not op:
        raise ValueError('"operation" must be an AWS operation name (e.g. StartDeployment) or "*"')
    if kind not in KINDS:
        raise ValueError(f'"kind" must be one of {", ".join(KINDS)}')
    count = doc.get("count", -1)
    if isinstance(count, bool) or not isinstance(count, int) or count == 0 or count < -1:
        raise ValueError('"count" must be a positive integer, or -1 for "until cleared"')
    delay = doc.get("delay_seconds", 10.0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 < delay <= 600:
        raise ValueError('"delay_seconds" must be a number of seconds in (0, 600]')
    return {"operation": op, "kind": kind, "count": count, "delay_seconds": float(delay)}
