"""Shared vocabulary of the orchestrator: tiers, messages, completions, backend errors, ports.

Framework-free. Every module of `orchestrator/` builds on these names; keep them stable.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import AsyncIterator, Literal, Protocol


class ModelTier(str, Enum):
    BEDROCK_HAIKU = "bedrock_haiku"
    BEDROCK_SONNET = "bedrock_sonnet"
    SHADOW_SELF = "shadow_self"


@dataclass(frozen=True)
class RoutingDecision:
    primary_model: ModelTier
    fallbacks: tuple[ModelTier, ...]
    reason: str                      # human-readable: why this tier ("complex: 14 words, 'implications', 'explain'")
    score: float = 0.0               # complexity score the decision came from


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Completion:
    text: str
    tier: ModelTier
    model_id: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    hidden_states: list[float] | None = None   # Shadow Self only
    finish_reason: str = "stop"                # OpenAI's words: "stop" or "length"


@dataclass(frozen=True)
class StreamUsage:
    """The last item a backend's stream may yield after its text: the token counts it reported."""
    input_tokens: int
    output_tokens: int
    finish_reason: str = "stop"


FailureKind = Literal["throttling", "server", "timeout", "content_filter", "client"]


class BackendError(Exception):
    """A backend call failed. `kind` decides whether the circuit breaker counts it:
    throttling, server (5xx) and timeout count; content_filter and client (4xx) do not —
    they say nothing about the backend's health."""

    COUNTED: frozenset[str] = frozenset({"throttling", "server", "timeout"})

    def __init__(self, kind: FailureKind, message: str, *, tier: ModelTier | None = None, status: int | None = None):
        super().__init__(message)
        self.kind, self.tier, self.status = kind, tier, status

    @property
    def counts_for_breaker(self) -> bool:
        return self.kind in self.COUNTED


class Backend(Protocol):
    """One model tier's inference API (Bedrock converse, vLLM OpenAI API, SageMaker runtime)."""

    tier: ModelTier

    async def complete(self, messages: list[Message], *, max_tokens: int = 256, temperature: float = 0.0,
                       top_p: float | None = None, stop: tuple[str, ...] = ()) -> Completion: ...

    def stream(self, messages: list[Message], *, max_tokens: int = 256, temperature: float = 0.0,
               top_p: float | None = None, stop: tuple[str, ...] = ()) -> AsyncIterator["str | StreamUsage"]:
        """Text deltas, then (when the backend reports it) one StreamUsage."""

    async def close(self) -> None: ...


@dataclass(frozen=True)
class CacheHit:
    answer: str
    similarity: float
    matched_query: str
    scope: str
    usage: dict | None = None     # what generating the answer cost, reported as saved on a hit


class SemanticCache(Protocol):
    """`scope` is "global" for context-free answers, or "user:<id>" / "session:<id>" for answers
    that depend on someone's context; a lookup never crosses scopes."""

    async def lookup(self, query: str, *, scope: str = "global", exact_only: bool = False) -> CacheHit | None: ...
    async def store(self, query: str, answer: str, *, scope: str = "global", usage: dict | None = None,
                    exact_only: bool = False) -> None: ...


class WorkingMemory(Protocol):
    """Per-session conversation: Redis with a TTL, durable copy in DynamoDB."""

    async def append(self, session_id: str, message: Message) -> None: ...
    async def append_exchange(self, session_id: str, user: Message, assistant: Message) -> None:
        """A user turn and its answer, stored together: one durable write, one Redis call."""
    async def history(self, session_id: str, limit: int = 20) -> list[Message]: ...


@dataclass(frozen=True)
class Fact:
    domain: str
    subject: str
    text: str
    source: str                        # provenance: interaction id / session id
    created_at: float
    fact_id: str = ""
    superseded_by: str | None = None
    superseded_at: float | None = None
    extra: dict = field(default_factory=dict)
