"""Who is calling: API keys as LiteLLM's clients send them, mapped to principals.

Clients keep the key they use with LiteLLM today (`Authorization: Bearer sk-...`). The
orchestrator stores only SHA-256 hashes of keys (a Kubernetes Secret in production; on the
sandbox, the hash of the key in `<work_dir>/litellm.key`). Every key maps to a principal, and
every client-chosen id (session id, `user`) is namespaced by it, so one caller can never read
another's session or cache scope by guessing an id. Anonymous access exists only when a config
names an `anonymous_principal` explicitly (tests and the sandbox may; production does not).
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from orchestrator.api_errors import ApiError


@dataclass(frozen=True)
class ApiKeyEntry:
    principal: str
    sha256: str  # hex digest of the key's UTF-8 bytes


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class KeyRing:
    def __init__(self, entries: list[ApiKeyEntry] | tuple[ApiKeyEntry, ...], anonymous_principal: str | None = None):
        self._entries = tuple((bytes.fromhex(e.sha256.lower()), e.principal) for e in entries)
        self.anonymous_principal = anonymous_principal

    def authenticate(self, authorization: str | None) -> str:
        """The caller's principal; 401 in OpenAI's shape for a missing, malformed or unknown key."""
        if not authorization:
            if self.anonymous_principal:
                return self.anonymous_principal
            raise ApiError(401, "You didn't provide an API key. Send it as 'Authorization: Bearer <key>', "
                                "the key you use with the LiteLLM gateway.", code="missing_api_key")
        scheme, _, key = authorization.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(401, "The Authorization header must be 'Bearer <key>'.", code="invalid_api_key")
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        found = None
        for known, principal in self._entries:  # compare with every entry: timing says nothing
            if hmac.compare_digest(digest, known):
                found = principal
        if found is None:
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
        return found


def scoped(principal: str, client_id: str | None) -> str | None:
    """A client-chosen id inside its principal's namespace (the key session memory and the cache use)."""
    return f"{principal}/{client_id}" if client_id else None


def token_matches(authorization: str | None, token: str) -> bool:
    """Bearer-token check for the admin API: bytes compared in constant time (a non-ASCII header is
    just a wrong token, never a crash); an empty configured token matches nothing."""
    if not token:
        return False
    given = (authorization or "").strip()
    if not given.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(given[7:].strip().encode("utf-8", "surrogatepass"), token.encode("utf-8"))
