"""Semantic cache: MiniLM embeddings (int8 ONNX), a per-scope vector index and a paraphrase guard.

`SemanticCacheService` implements `orchestrator.ports.SemanticCache`. The model loads on first use,
so importing this package is cheap.
"""
from orchestrator.cache.embedder import Embedder, EmbedderUnavailable
from orchestrator.cache.guard import GuardDecision, ParaphraseGuard, same_question
from orchestrator.cache.index import Neighbour, VectorIndex
from orchestrator.cache.service import LookupTrace, SemanticCacheService

__all__ = ["Embedder", "EmbedderUnavailable", "GuardDecision", "LookupTrace", "Neighbour", "ParaphraseGuard",
           "SemanticCacheService", "VectorIndex", "same_question"]
