"""The memory half of the orchestrator's admin API, framework-free (the Serve app and the tests'
in-process API both call these): index and search episodes, consolidate an interaction the
orchestrator served, list and delete facts, and time point reads of semantic memory.

Each function takes the `CatoOrchestrator` and a JSON-ready body and returns JSON-ready data;
`AdminError(status, message)` is what the HTTP layer turns into an error answer.
"""
from __future__ import annotations

import math
import time
import uuid
from dataclasses import asdict

from orchestrator.ports import BackendError


class AdminError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _memory(orch):
    if orch.memory is None:
        raise AdminError(409, "no memory service is wired into this orchestrator")
    return orch.memory


def _text(body: dict, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise AdminError(400, f"{key!r} must be a non-empty string")
    return value


def _int(body: dict, key: str, default: int, low: int, high: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise AdminError(400, f"{key!r} must be an integer from {low} to {high}")
    return value


def _episodic_ready(memory) -> str:
    if memory.episodic is None or memory.embedder is None:
        raise AdminError(409, "episodic memory is not wired: it needs the semantic cache's embedder "
                              "(cache.enabled) and an episodic index")
    return type(memory.episodic).__name__


async def add_episode(orch, body: dict) -> dict:
    """Store an interaction ({query, response, user_id?, domain?, session_id?}) and index it."""
    await orch._start()
    memory = _memory(orch)
    index = _episodic_ready(memory)
    interaction = {"query": _text(body, "query"), "response": _text(body, "response")}
    for k in ("user_id", "domain", "session_id", "id"):
        if body.get(k):
            interaction[k] = str(body[k])
    episode_id = await memory.storeInteraction(interaction)
    return {"id": episode_id, "index": index}


async def search_episodes(orch, body: dict) -> dict:
    memory = _memory(orch)
    index = _episodic_ready(memory)
    k = _int(body, "k", 5, 1, 100)
    hits = await memory.searchEpisodes(_text(body, "query"), k=k, user_id=body.get("user_id"))
    return {"index": index, "hits": [{"id": i, "score": round(float(sc), 4), "metadata": m} for i, sc, m in hits]}


async def consolidate(orch, body: dict) -> dict:
    """Run consolidation on the last exchange of `session_id` (what the orchestrator served and
    recorded in working memory), or on a given `interaction`."""
    await orch._start()
    memory = _memory(orch)
    if memory.consolidation is None:
        raise AdminError(409, "no consolidation pipeline is wired into this orchestrator")
    domain = str(body.get("domain") or "general")
    if body.get("session_id"):
        from orchestrator.identity import scoped

        # sessions live in their principal's namespace (orchestrator/identity.py)
        principal = body.get("principal")
        session = str(body["session_id"])
        interaction = await _last_exchange(orch, scoped(str(principal), session) if principal else session)
        interaction["session_id"] = session
    elif isinstance(body.get("interaction"), dict):
        interaction = dict(body["interaction"])
    else:
        raise AdminError(400, "give 'session_id' (consolidate its last exchange) or an 'interaction' object")
    interaction.setdefault("domain", domain)
    await memory.storeInteraction(interaction)
    try:
        facts = await memory.consolidate(interaction)
    except BackendError as exc:
        raise AdminError(502, f"the consolidation model failed ({exc.kind}): {exc}") from exc
    return {"interaction_id": interaction["id"], "domain": interaction["domain"], "facts": [asdict(f) for f in facts]}


async def _last_exchange(orch, session_id: str) -> dict:
    turns = await orch.working.history(session_id, 4)
    for i in range(len(turns) - 1, 0, -1):
        if turns[i].role == "assistant" and turns[i - 1].role == "user":
            return {"query": turns[i - 1].content, "response": turns[i].content, "session_id": session_id}
    raise AdminError(404, f"session {session_id!r} has no exchange in working memory")


async def facts(orch, domain: str) -> dict:
    await orch._start()
    found = await _memory(orch).getFactsByDomain(domain)
    return {"domain": domain, "facts": [asdict(f) for f in found]}


async def delete_fact(orch, body: dict) -> dict:
    await orch._start()
    await _memory(orch).semantic.delete_fact(_text(body, "domain"), _text(body, "fact_id"))
    return {"deleted": True}


def nearest_rank(sorted_values: list[float], q: float) -> float:
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


async def read_latency(orch, body: dict) -> dict:
    """Write a probe fact, read it once (warm-up), then time `n` point reads through the read
    path inside this process; the probe fact is deleted after."""
    from orchestrator.ports import Fact

    await orch._start()
    semantic = _memory(orch).semantic
    n = _int(body, "n", 200, 1, 100_000)
    domain = str(body.get("domain") or "cato-probe")
    nonce = uuid.uuid4().hex[:12]
    fact = await semantic.put_fact(Fact(domain=domain, subject=f"read probe {nonce}",
                                        text=f"Read probe {nonce} exists.", source="admin:read-latency",
                                        created_at=0.0))
    try:
        if await semantic.get_fact(domain, fact.fact_id) is None:
            raise AdminError(500, f"probe fact {fact.fact_id} written but not readable")
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            got = await semantic.get_fact(domain, fact.fact_id)
            samples.append((time.perf_counter() - t0) * 1000)
            if got is None:
                raise AdminError(500, "probe fact disappeared during the measurement")
    finally:
        await semantic.delete_fact(domain, fact.fact_id)
    samples.sort()
    path = semantic.read_path
    return {"n": n, "p50_ms": round(nearest_rank(samples, 0.50), 4), "p99_ms": round(nearest_rank(samples, 0.99), 4),
            "max_ms": round(samples[-1], 4), "path": path.name, "label": path.label,
            "cache": path.cache.stats() if path.cache is not None else None,
            "measured": "GetItem of one probe fact by key, timed inside the orchestrator process "
                        "after one warm-up read (network hop to the caller excluded)"}
