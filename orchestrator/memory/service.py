"""GlobalMemoryService: the one memory facade the orchestrator talks to.

It ties the stores together: working memory (per-session turns), semantic memory (facts by
domain), an optional episodic index (with an embedder) and an optional consolidation pipeline.
The camelCase names are the runbook's (week 11); snake_case aliases are the Python spelling.

An interaction is a dict with at least "query" and "response"; optional "id", "domain"
(default "general"), "user_id" (or "user"), "session_id" (or "session"), "timestamp".
`storeInteraction` fills in a missing "id" in the caller's dict (as pymongo's insert_one
does with "_id"), so the same dict can be handed to `ConsolidationPipeline.extract_facts`
afterwards and the facts carry the interaction's id as provenance.
"""
from __future__ import annotations

import inspect
import logging
import time
import uuid
from typing import Any, Callable

from orchestrator.ports import Fact, Message, WorkingMemory

from .consolidation import DEFAULT_DOMAIN, ConsolidationPipeline
from .episodic import Embedder, EpisodicIndex, Hit
from .interactions import InMemoryInteractionLog, InteractionLog
from .semantic import SemanticMemory

log = logging.getLogger(__name__)


def normalise_interaction(interaction: dict, now: float) -> dict:
    query, response = interaction.get("query"), interaction.get("response")
    if not isinstance(query, str) or not query.strip() or not isinstance(response, str):
        raise ValueError("an interaction needs a non-empty 'query' and a 'response' string")
    record = {k: v for k, v in interaction.items() if k not in ("user", "session", "timestamp")}
    record.update(
        id=str(interaction.get("id") or f"ix-{uuid.uuid4().hex}"),
        domain=str(interaction.get("domain") or DEFAULT_DOMAIN),
        user_id=interaction.get("user_id") or interaction.get("user"),
        session_id=interaction.get("session_id") or interaction.get("session"),
        created_at=float(interaction.get("timestamp") or interaction.get("created_at") or now))
    return record


class GlobalMemoryService:
    def __init__(self, working: WorkingMemory, semantic: SemanticMemory,
                 episodic: EpisodicIndex | None = None, embedder: Embedder | None = None,
                 consolidation: ConsolidationPipeline | None = None, *,
                 interactions: InteractionLog | None = None, clock: Callable[[], float] = time.time):
        self.working, self.semantic, self.episodic = working, semantic, episodic
        self.embedder, self.consolidation, self.clock = embedder, consolidation, clock
        self.interactions = interactions if interactions is not None else InMemoryInteractionLog()

    async def storeInteraction(self, interaction: dict) -> str:
        """Record the interaction (and index it episodically when an embedder is wired);
        returns its id. The interaction log is the record: an episodic failure is logged,
        not raised."""
        record = normalise_interaction(interaction, self.clock())
        interaction.setdefault("id", record["id"])
        await self.interactions.put(record)
        if self.episodic is not None and self.embedder is not None:
            text = f"{record['query']}\n{record['response']}"
            try:
                vector = await self._embed(text)
                meta = {k: record[k] for k in ("domain", "user_id", "session_id", "created_at", "query")
                        if record.get(k) is not None}
                await self.episodic.add(record["id"], text, vector, meta)
            except Exception:  # noqa: BLE001 — best effort: the interaction itself is stored
                log.warning("episodic indexing failed for interaction %s", record["id"], exc_info=True)
        return record["id"]

    async def get_interaction(self, interaction_id: str) -> dict | None:
        return await self.interactions.get(interaction_id)

    async def getFactsByDomain(self, domain: str) -> list[Fact]:
        """Current facts of a domain (superseded ones left out), oldest first."""
        return await self.semantic.facts_by_domain(domain)

    async def consolidate(self, interaction: dict | str) -> list[Fact]:
        """Run the consolidation pipeline on an interaction (or a stored interaction's id)."""
        if self.consolidation is None:
            raise RuntimeError("no consolidation pipeline is wired into this memory service")
        record = await self.get_interaction(interaction) if isinstance(interaction, str) else interaction
        if record is None:
            raise KeyError(f"no interaction {interaction!r}")
        return await self.consolidation.extract_facts(record)

    async def searchEpisodes(self, query: str, k: int = 5, user_id: str | None = None) -> list[Hit]:
        """Past interactions most similar to `query` (only `user_id`'s when given)."""
        if self.episodic is None or self.embedder is None:
            return []
        return await self.episodic.search(await self._embed(query), k=k, filter_user=user_id)

    async def history(self, session_id: str, limit: int = 20) -> list[Message]:
        return await self.working.history(session_id, limit)

    async def _embed(self, text: str) -> Any:
        vector = self.embedder.embed(text)  # type: ignore[union-attr]
        return await vector if inspect.isawaitable(vector) else vector

    # the Python spelling
    store_interaction = storeInteraction
    get_facts_by_domain = getFactsByDomain
    search_episodes = searchEpisodes
