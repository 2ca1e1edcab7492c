"""Config -> backends, working memory, cache, memory. The one place that chooses adapters."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from orchestrator.config import BackendConfig, OrchestratorConfig
from orchestrator.ports import ModelTier


@dataclass
class Built:
    config: OrchestratorConfig
    backends: dict[ModelTier, Any]
    working: Any
    cache: Any
    memory: Any
    startup: list = None  # async callables run once before the first query (e.g. create tables)
    shutdown: list = None  # async callables run on close, after the pending writes (connection pools)


def make_backend(tier: ModelTier, bc: BackendConfig):
    if bc.kind == "bedrock":
        from orchestrator.backends import BedrockBackend

        return BedrockBackend(bc.model_id, tier, bc.region, endpoint_url=bc.endpoint_url,
                              timeout_s=bc.timeout_s, max_attempts=bc.max_attempts)
    if bc.kind == "vllm":
        from orchestrator.backends import VllmBackend

        return VllmBackend(bc.endpoint_url or "http://127.0.0.1:8000/v1", bc.model_id, tier=tier,
                           timeout_s=bc.timeout_s, max_attempts=bc.max_attempts)
    from orchestrator.backends import SageMakerBackend

    return SageMakerBackend(bc.model_id, tier, bc.region, endpoint_url=bc.endpoint_url,
                            timeout_s=bc.timeout_s, max_attempts=bc.max_attempts)


def build_components(config: OrchestratorConfig | None = None) -> Built:
    config = config or OrchestratorConfig.from_env()
    if config.dynamodb_endpoint_url:
        # the sandbox's moto accepts any credentials; never reach for a real profile locally
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "sandbox")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "sandbox")
    backends = {tier: make_backend(tier, bc) for tier, bc in config.backends.items()}
    from orchestrator.memory.dynamo_sessions import DynamoSessions
    from orchestrator.memory.working import WorkingMemoryStore

    durable = DynamoSessions(config.sessions_table, config.region, endpoint_url=config.dynamodb_endpoint_url)
    working = WorkingMemoryStore(config.redis_url, ttl_s=config.session_ttl_s, durable=durable)
    cache = None
    if config.cache.enabled:
        from orchestrator.cache import SemanticCacheService

        cache = SemanticCacheService(threshold=config.cache.threshold, max_entries=config.cache.max_entries,
                                     max_bytes=config.cache.max_bytes, ttl_s=config.cache.ttl_s)
    from orchestrator.memory import ConsolidationPipeline, GlobalMemoryService, SemanticMemory

    from orchestrator.memory.item_cache import make_read_path

    reads = make_read_path(dax_endpoint=config.reads.dax_endpoint, item_cache=config.reads.item_cache,
                           ttl_s=config.reads.item_ttl_s, region=config.region, endpoint_url=config.dynamodb_endpoint_url)
    semantic = SemanticMemory(config.facts_table, config.region, endpoint_url=config.dynamodb_endpoint_url,
                              read_path=reads)
    # Consolidation prompts the cheap tier: fact extraction is a simple, high-volume task.
    consolidation = ConsolidationPipeline(backends[ModelTier.BEDROCK_HAIKU], semantic)
    episodic = embedder = None
    if cache is not None:  # episodic memory shares the cache's MiniLM model
        from orchestrator.memory import EmbeddedEpisodicIndex

        episodic, embedder = EmbeddedEpisodicIndex(dim=384), _ThreadedEmbedder(cache.embedder)
    memory = GlobalMemoryService(working, semantic, episodic=episodic, embedder=embedder, consolidation=consolidation)
    return Built(config, backends, working, cache, memory=memory,
                 startup=[durable.ensure_table, semantic.ensure_table], shutdown=[durable.close, semantic.close])


class _ThreadedEmbedder:
    """One text -> vector, off the event loop (the model call takes milliseconds of CPU)."""

    def __init__(self, embedder):
        self._embedder = embedder

    async def embed(self, text: str):
        import asyncio

        return await asyncio.to_thread(self._embedder.embed_one, text)
