"""The orchestrator's configuration schema (pydantic; unknown keys are errors).

Concurrency is set on purpose (see `ServeConfig`): Ray Serve's defaults allow 5 in-flight
requests per replica and queue without bound, which collapses under a burst on a small
machine; the Python HTTP proxy and the outbound client saturate first.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from orchestrator.models_catalog import LEGACY_ALIASES, ROUTED_NAMES
from orchestrator.ports import ModelTier
from orchestrator.pricing import PriceTable


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendConfig(_Model):
    kind: Literal["bedrock", "vllm", "sagemaker"] = Field(description="Which inference API serves the tier.")
    model_id: str = Field(description="Bedrock model id, vLLM model name, or SageMaker endpoint name.")
    endpoint_url: str | None = Field(default=None, description="Override of the API endpoint (the sandbox simulator locally).")
    region: str = Field(default="us-east-1", description="AWS region for Bedrock/SageMaker.")
    timeout_s: float = Field(default=30.0, gt=0, description="Per-attempt timeout.")
    max_attempts: int = Field(default=3, ge=1, le=10, description="Attempts for throttling/5xx/timeouts, with jittered backoff.")


class BreakerConfig(_Model):
    failure_threshold: int = Field(default=5, ge=1, description="Counted failures within the window that open a breaker.")
    window_s: float = Field(default=60.0, gt=0, description="Sliding window for counting failures.")
    cooldown_s: float = Field(default=30.0, gt=0, description="Open time before a half-open probe.")


class CacheConfig(_Model):
    enabled: bool = Field(default=True, description="Use the semantic cache.")
    threshold: float = Field(default=0.80, gt=0, le=1, description="Cosine similarity a hit needs (before the paraphrase guard).")
    max_entries: int = Field(default=100_000, gt=0, description="Entries (all scopes together) before the oldest are evicted.")
    max_bytes: int = Field(default=256 * 1024 * 1024, gt=0,
                           description="Bytes of cached questions, answers and vectors (all scopes) before the oldest are evicted.")
    ttl_s: float = Field(default=3600.0, gt=0, description="An answer older than this is never served; it is evicted on access.")
    max_temperature: float = Field(default=1.0, ge=0, le=2,
                                   description="Answers sampled above this temperature are not cached: a caller asking for "
                                               "variety should not get a stored sample.")


class ApiKey(_Model):
    principal: str = Field(pattern=r"^[A-Za-z0-9_.:@-]{1,64}$",
                           description="Who the key belongs to; session ids, users and cache scopes are namespaced by it.")
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 (hex) of the key as clients send it.")


class ServeConfig(_Model):
    host: str = Field(default="127.0.0.1", description="Serve HTTP proxy host.")
    port: int = Field(default=8000, ge=1, le=65535, description="Serve HTTP proxy port.")
    num_replicas: int = Field(default=1, ge=1, description="Orchestrator replicas.")
    max_admitted: int = Field(
        default=512, ge=1,
        description="Chat requests one replica works on at once; the next is refused at once with 429 and "
                    "Retry-After in OpenAI's shape, never queued into a timeout. Requests mostly await the model "
                    "(~0.3 MB each), so this bounds memory and queueing, not CPU: see docs/capacity.md.")
    retry_after_s: int = Field(default=1, ge=0, le=3600, description="Retry-After sent with a 429.")
    ingress_queue_timeout_s: float = Field(
        default=2.0, gt=0, le=60,
        description="With the HAProxy ingress: HAProxy lets at most max_admitted requests reach a replica at once "
                    "and holds up to max_queued_requests more for at most this long, then refuses them with 429 "
                    "(orchestrator/ingress_limits.py; the Ray head's CATO_HAPROXY_* environment).")
    max_embeddings_waiting: int = Field(
        default=128, ge=0,
        description="Cache lookups a replica lets wait for the embedding model (~3.3 ms of CPU a text with int8 activations, ~8 ms without; 2 at once: "
                    "128 is about a quarter of a second); beyond, new requests get 429 at once instead of queueing "
                    "(0: no bound).")
    write_concurrency: int = Field(
        default=64, ge=1, description="Session and cache writes behind the reply sent at once per replica; the rest "
                                      "wait in order (orchestrator/write_behind.py).")
    max_pending_writes: int = Field(
        default=20_000, ge=1,
        description="Writes behind the reply a replica may hold; at this many, new requests get 429 until they "
                    "drain (bounds memory, and what a crash could lose).")
    max_ongoing_requests: int = Field(
        default=576, ge=1,
        description="Per replica, for Serve: above max_admitted so health checks and metrics still get in while "
                    "chat is full. The default (5) serialises an I/O-bound asyncio app.")
    max_queued_requests: int = Field(
        default=64, ge=-1,
        description="Requests Serve holds for a replica beyond max_ongoing_requests; beyond this it answers 429 "
                    "with Retry-After at once (-1 would queue without bound, LiteLLM-style collapse under a burst).")
    access_log: bool = Field(default=False, description="Serve's per-request access log line (off the hot path "
                                                        "by default; errors are still logged).")


class ReadsConfig(_Model):
    dax_endpoint: str | None = Field(default=None, description="DAX cluster endpoint (dax://...) for semantic-memory point reads; needs amazon-dax-client.")
    item_cache: bool = Field(default=True, description="Without DAX: an in-process item cache (DAX item-cache semantics) in front of DynamoDB.")
    item_ttl_s: float = Field(default=300.0, gt=0, description="Item cache TTL (DAX's default item TTL is 5 minutes).")


class OrchestratorConfig(_Model):
    backends: dict[ModelTier, BackendConfig] = Field(description="One backend per tier.")
    redis_url: str = Field(description="Working memory (sessions).")
    region: str = Field(default="us-east-1", description="AWS region for DynamoDB.")
    dynamodb_endpoint_url: str | None = Field(default=None, description="DynamoDB endpoint override (moto locally).")
    sessions_table: str = Field(default="cato-working-memory", description="Durable copy of sessions.")
    facts_table: str = Field(default="cato-semantic-memory", description="Semantic memory (facts by domain).")
    session_ttl_s: int = Field(default=3600, gt=0, description="Working-memory TTL in Redis.")
    history_turns: int = Field(default=20, ge=0, description="Turns of history sent to the model.")
    shadow_self_domains: list[str] = Field(default_factory=lambda: ["shadow", "introspection"],
                                           description="Domains routed to Shadow Self first.")
    breaker: BreakerConfig = Field(default_factory=BreakerConfig, description="Circuit breaker settings.")
    cache: CacheConfig = Field(default_factory=CacheConfig, description="Semantic cache settings.")
    serve: ServeConfig = Field(default_factory=ServeConfig, description="Ray Serve settings.")
    reads: ReadsConfig = Field(default_factory=ReadsConfig, description="How semantic-memory point reads reach DynamoDB (DAX, item cache, direct).")
    admin_token: SecretStr = Field(default=SecretStr(""), description="Bearer token for /admin; empty disables the admin API.")
    api_keys: list[ApiKey] = Field(default_factory=list,
                                   description="Client API keys (hashed) and their principals; CATO_ORCHESTRATOR_API_KEYS "
                                               "(a JSON list, from a Kubernetes Secret) adds to them.")
    anonymous_principal: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.:@-]{1,64}$",
        description="Principal for requests without a key. None (the default) means every request needs a key; "
                    "only tests and rehearsals set it.")
    model_aliases: dict[str, ModelTier] = Field(
        default_factory=lambda: dict(LEGACY_ALIASES),
        description="Model names that pin a tier: the names clients use with LiteLLM today (config/litellm.yaml).")
    routed_models: list[str] = Field(default_factory=lambda: list(ROUTED_NAMES),
                                     description="Model names the orchestrator routes by complexity.")
    drop_params: bool = Field(default=False, description="Drop request parameters no tier supports instead of a 400 "
                                                         "naming them (LiteLLM's drop_params).")
    max_output_tokens: int = Field(default=8192, ge=1, description="The largest max_tokens a request may ask for.")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024,
                                description="Request bodies over this are refused with 413 before they are read whole.")
    pricing: PriceTable | None = Field(
        default=None, description="Prices per tier (config/pricing.yaml's content): each answer's usage x its tier's "
                                  "price feeds cato_cost_usd_total and `cato.cost_usd`; None: cost is not measured "
                                  "(no cost series, no cost_usd).")

    @classmethod
    def from_env(cls) -> "OrchestratorConfig":
        """CATO_ORCHESTRATOR_CONFIG (a JSON file). In a RayService the config comes as serveConfigV2 args."""
        path = os.environ.get("CATO_ORCHESTRATOR_CONFIG")
        if not path:
            raise ValueError("no orchestrator config: set CATO_ORCHESTRATOR_CONFIG to a JSON file "
                             "(the sandbox passes its own: cato_sandbox.orchestrator_config)")
        return cls.model_validate_json(Path(path).read_text())

API_KEYS_ENV = "CATO_ORCHESTRATOR_API_KEYS"


def key_file_entries(path: Path, principal: str) -> list[dict]:
    """[{principal, sha256}] for the key in `path` (a mounted key file), or [] if it is absent."""
    from orchestrator.identity import key_hash

    try:
        key = path.read_text().strip()
    except OSError:
        return []
    return [{"principal": principal, "sha256": key_hash(key)}] if key else []


def env_api_keys() -> list[ApiKey]:
    """CATO_ORCHESTRATOR_API_KEYS: a JSON list of {principal, sha256} (a Kubernetes Secret's value)."""
    raw = os.environ.get(API_KEYS_ENV, "").strip()
    if not raw:
        return []
    try:
        items = json.loads(raw)
        if not isinstance(items, list):
            raise ValueError("not a JSON list")
        return [ApiKey.model_validate(item) for item in items]
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ValueError(f"{API_KEYS_ENV} must be a JSON list of {{principal, sha256}}: {exc}") from None
