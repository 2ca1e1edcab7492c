"""Probes of the orchestrator's memory, through its API (chat + /admin/memory/*).

Each returns a `ProbeResult` (ok, message, measured, evidence) and cleans up what it wrote where
the API allows. Unique words keep one run from being satisfied by an earlier run's data.
"""
from __future__ import annotations

import uuid
from typing import Any

from cato_migrate.core.probes import ProbeResult
from cato_migrate.errors import ExternalError
from cato_migrate.backend_ports import MemoryApi


def _nonce() -> str:
    return uuid.uuid4().hex[:10]


_WORDS = ["amber", "basalt", "cobalt", "dahlia", "ember", "fennel", "garnet", "hazel", "indigo", "juniper"]


def probe_episodic(api: MemoryApi, min_score: float = 0.5) -> ProbeResult:
    """Index a unique episode for a unique user, then search it back with a paraphrase."""
    n = _nonce()
    word = _WORDS[int(n, 16) % len(_WORDS)]
    user = f"cato-probe-{n}"
    episode = {"query": f"Which colour did I pick for the {word} garden project?",
               "response": f"You picked deep {word} for the garden project's fence.",
               "user_id": user, "domain": "cato-probe"}
    try:
        added = api.add_episode(episode)
    except ExternalError as exc:
        return ProbeResult("episodic", False, f"indexing the probe episode failed: {exc.message}",
                           evidence={"user_id": user})
    found = api.search_episodes(f"what colour was the {word} garden fence", k=3, user_id=user)
    hits = found.get("hits", [])
    top: dict[str, Any] = hits[0] if hits else {}  # every use below asks `top` for truth first
    ok = bool(top) and top["id"] == added["id"] and top["score"] >= min_score
    evidence = {"episode_id": added["id"], "index": added.get("index"), "user_id": user, "hits": hits}
    if ok:
        return ProbeResult("episodic", True, f"probe episode indexed and found again (score {top['score']:.2f}) "
                           f"in {added.get('index')}", top["score"], evidence)
    why = ("the search returned nothing" if not top else
           f"the top hit was {top['id']} (score {top['score']:.2f}), not the probe {added['id']}")
    return ProbeResult("episodic", False, f"probe episode indexed but not found again: {why}",
                       top["score"] if top else None, evidence)


def probe_consolidation(api: MemoryApi, domain: str) -> ProbeResult:
    """Tell the orchestrator a unique fact in a session, consolidate that exchange, and look for
    the fact in semantic memory with the interaction as its provenance. Deletes it after."""
    n = _nonce()
    name = f"Quillfeather{n}"
    session = f"cato-probe-{n}"
    statement = f"{name} is a graph database designed for episodic memory."
    answer = api.chat(statement, session_id=session, domain=domain)
    try:
        # the session lives in the caller's namespace: consolidate it there
        result = api.consolidate(session_id=session, domain=domain,
                                 principal=(answer.get("cato") or {}).get("principal"))
    except ExternalError as exc:
        return ProbeResult("consolidation", False, f"consolidation failed: {exc.message}",
                           evidence={"session_id": session})
    stored = api.facts(domain).get("facts", [])
    mine = [f for f in stored if name in f["text"]]
    with_provenance = [f for f in mine if f["source"] == result["interaction_id"]]
    for f in mine:
        api.delete_fact(f["domain"], f["fact_id"])
    evidence = {"session_id": session, "interaction_id": result["interaction_id"], "statement": statement,
                "extracted": [f["text"] for f in result.get("facts", [])], "found": mine}
    if with_provenance:
        f = with_provenance[0]
        return ProbeResult("consolidation", True, f"fact {f['text']!r} extracted into {domain!r} with provenance "
                           f"{f['source']}", float(len(result.get("facts", []))), evidence)
    if mine:
        return ProbeResult("consolidation", False, f"the fact is in {domain!r} but its provenance is "
                           f"{mine[0]['source']!r}, not the interaction {result['interaction_id']}", 0.0, evidence)
    return ProbeResult("consolidation", False, f"no fact about {name} appeared in semantic memory ({domain!r}) "
                       f"after consolidating the exchange ({len(result.get('facts', []))} fact(s) extracted)",
                       0.0, evidence)


def probe_read_latency(api: MemoryApi, n: int = 200) -> ProbeResult:
    r = api.read_latency(n)
    msg = (f"p99 {r['p99_ms']:.4g} ms, p50 {r['p50_ms']:.4g} ms over {r['n']} point reads via {r['path']} "
           f"({r['label']})")
    return ProbeResult("read_latency", True, msg, r["p99_ms"], r)
