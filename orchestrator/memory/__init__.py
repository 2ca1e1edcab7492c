"""Memory for the orchestrator: working (Redis + DynamoDB), semantic (facts), episodic (vectors).

Modules, one job each::

    working.py              WorkingMemoryStore: per-session turns in Redis, re-warmed from ...
    dynamo_sessions.py      DynamoSessions: ... the durable per-turn copy in DynamoDB
    semantic.py             SemanticMemory: facts by domain with provenance; contradictions supersede
    contradiction.py        ContradictionDetector port; lexical and NLI-model detectors
    episodic.py             EpisodicIndex port; EmbeddedEpisodicIndex (numpy / hnswlib)
    opensearch_episodic.py  OpenSearchEpisodicIndex (production k-NN)
    consolidation.py        ConsolidationPipeline: EXTRACT_FACTS prompt -> facts
    interactions.py         the interaction log (in memory / DynamoDB)
    service.py              GlobalMemoryService: the facade (runbook week 11)
    _dynamo.py              the shared DynamoDB seam and its error tree

Names are imported lazily, so `import orchestrator.memory` pulls in neither boto3, redis nor numpy.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "WorkingMemoryStore": "working", "DurableSessions": "working",
    "DynamoSessions": "dynamo_sessions",
    "SemanticMemory": "semantic",
    "ContradictionDetector": "contradiction", "LexicalContradictionDetector": "contradiction",
    "NliContradictionDetector": "contradiction",
    "EpisodicIndex": "episodic", "EmbeddedEpisodicIndex": "episodic", "Embedder": "episodic",
    "OpenSearchEpisodicIndex": "opensearch_episodic",
    "ConsolidationPipeline": "consolidation",
    "InteractionLog": "interactions", "InMemoryInteractionLog": "interactions",
    "DynamoInteractionLog": "interactions",
    "GlobalMemoryService": "service",
    "MemoryStoreError": "_dynamo", "ConditionFailed": "_dynamo",
}
__all__ = list(sorted(_EXPORTS))


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
