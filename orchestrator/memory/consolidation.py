"""Consolidation: ask the model which facts an interaction taught us, store them by domain.

Wire contract with the model (the model simulator answers it in the sandbox): a chat whose
system prompt starts with `EXTRACT_FACTS` and whose user message is "Query:\n<query>\n\n
Response:\n<response>"; the answer contains a JSON array `[{"subject": ..., "fact": ...}, ...]`,
possibly wrapped in prose or a ```json fence. A malformed answer yields no facts and a logged
warning, never an exception; backend errors (`BackendError`) do propagate, so a scheduler can
retry the interaction later.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable

from orchestrator.ports import Backend, Fact, Message

from .semantic import SemanticMemory

log = logging.getLogger(__name__)

EXTRACT_FACTS_PROMPT = (
    "EXTRACT_FACTS\n"
    "Extract the durable, self-contained facts that the interaction below states. Answer with a "
    'JSON array only: [{"subject": "<what the fact is about>", "fact": "<one sentence>"}]. '
    "Answer [] when there are none."
)
DEFAULT_DOMAIN = "general"


def interaction_prompt(interaction: dict) -> list[Message]:
    # labels on lines of their own: the sandbox simulator reads the text sentence by sentence
    user = f"Query:\n{interaction.get('query', '')}\n\nResponse:\n{interaction.get('response', '')}"
    return [Message("system", EXTRACT_FACTS_PROMPT), Message("user", user)]


def parse_fact_array(text: str) -> list[dict[str, str]] | None:
    """The first JSON array of {"subject", "fact"} objects in `text`, cleaned; None if there is
    no parsable array. Items without a non-empty subject and fact (or "text") are dropped."""
    decoder = json.JSONDecoder()
    start = text.find("[")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            cleaned = []
            for v in value:
                subject, fact = v.get("subject"), v.get("fact", v.get("text"))
                if isinstance(subject, str) and isinstance(fact, str) and subject.strip() and fact.strip():
                    cleaned.append({"subject": subject.strip(), "fact": fact.strip()})
            if len(cleaned) < len(value):
                log.warning("consolidation: dropped %d fact item(s) without a subject and a fact",
                            len(value) - len(cleaned))
            return cleaned
        start = text.find("[", start + 1)
    return None


class ConsolidationPipeline:
    def __init__(self, backend: Backend, semantic: SemanticMemory, *, max_tokens: int = 512,
                 clock: Callable[[], float] = time.time):
        self.backend, self.semantic, self.max_tokens, self.clock = backend, semantic, max_tokens, clock

    async def extract_facts(self, interaction: dict[str, Any]) -> list[Fact]:
        """Prompt the model, store what it extracted (contradictions handled by semantic
        memory) and return the stored facts. Provenance is the interaction's "id"."""
        completion = await self.backend.complete(interaction_prompt(interaction),
                                                 max_tokens=self.max_tokens, temperature=0.0)
        source = str(interaction.get("id") or "unknown")
        items = parse_fact_array(completion.text)
        if items is None:
            log.warning("consolidation: no JSON fact array in the model's answer for interaction %s: %r",
                        source, completion.text[:200])
            return []
        domain = str(interaction.get("domain") or DEFAULT_DOMAIN)
        now = self.clock()
        stored: list[Fact] = []
        for item in items:
            fact = Fact(domain=domain, subject=item["subject"], text=item["fact"], source=source,
                        created_at=now, extra={"model_id": completion.model_id})
            stored.append(await self.semantic.put_fact(fact))
        return stored
