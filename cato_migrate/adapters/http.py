"""The one HTTP seam: how our HTTP clients are built, and how their failures become our errors.

Two transports, one mapping:

    httpx   `client()` (the orchestrator, LiteLLM, the sandbox's admin knobs): trust_env=False, so
            no proxy or .netrc from the environment reaches systems addressed directly
    urllib  `open_url()` (gateway scrapes, Prometheus, webhooks): stdlib only, for the paths that
            run in watch loops and must not pay httpx's import; no proxy unless asked for

    transport failure (refused, DNS, TLS, timeout)  -> ExternalError "<what> unreachable: ..."
    an HTTP status at or above the line (`answered`) -> ExternalError "<what> answered HTTP <status>: <body>"

httpx is imported only when a client is built or a failure is mapped.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cato_migrate.errors import ExternalError

__all__ = ["Answer", "answered", "client", "open_url", "transport_errors"]


def client(base_url: str, *, timeout: float, headers: Mapping[str, str] | None = None) -> Any:
    """An httpx.Client for one system; the environment's proxy settings are not used."""
    import httpx

    return httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, trust_env=False, headers=dict(headers or {}))


def _join(message: str, then: str) -> str:
    return f"{message}; {then}" if then else message


@contextlib.contextmanager
def transport_errors(what: str, *, hint: str | None = None, then: str = "",
                     failed: str = "unreachable") -> Iterator[None]:
    """httpx's transport failures inside become ExternalError; `what` names the system and where it
    is ("orchestrator at http://..."), `failed` what that means ("is not running"), `then` what did
    (not) happen ("nothing was journaled")."""
    import httpx

    try:
        yield
    except httpx.HTTPError as exc:
        raise ExternalError(_join(f"{what} {failed}: {type(exc).__name__}: {exc}", then), hint=hint) from exc


class _Status(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...


def answered(r: _Status, what: str, *, hint: str | None = None, then: str = "", above: int = 400,
             body: bool = True) -> Any:
    """`r` if its status is below `above`; otherwise ExternalError with the start of its body
    (`body=False`: without it, where the body may be large or say nothing)."""
    if r.status_code >= above and not body:
        raise ExternalError(_join(f"{what} answered HTTP {r.status_code}", then), hint=hint)
    if r.status_code >= above:
        raise ExternalError(_join(f"{what} answered HTTP {r.status_code}: {r.text[:300]}", then), hint=hint)
    return r


@dataclass(frozen=True)
class Answer:
    """What a urllib request got back, whatever its status."""

    status_code: int
    headers: Any = field(repr=False)  # an email.message.Message: .get() ignores case
    body: bytes = field(repr=False)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def open_url(request: Any, *, timeout: float, what: str, hint: str | None = None, proxy: bool = False,
             secret: str | None = None) -> Answer:
    """GET a URL (or send a urllib.request.Request) with the stdlib. Every HTTP status comes back as
    an Answer (the caller decides what a 4xx means); a transport failure is an ExternalError. `secret`:
    a URL that must not leave this function (a webhook's): replaced by `what`, and no cause chained."""
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener() if proxy else urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as resp:
            return Answer(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read()
        except OSError:
            body = b""
        return Answer(exc.code, exc.headers, body)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = str(getattr(exc, "reason", exc))
        if secret:
            raise ExternalError(f"{what} unreachable: {reason.replace(secret, what)}", hint=hint) from None
        raise ExternalError(f"{what} unreachable: {reason}", hint=hint) from exc
