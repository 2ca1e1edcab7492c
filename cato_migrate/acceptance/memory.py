"""The memory suite (runbook week 12): what a session remembers, observed through the API.

Context survives across turns of one session (in order: the latest statement wins, a
streamed turn counts) and never reaches another session or a request with no session.
Every name and city is unique to the run, so a cached answer or an old session cannot
make a case pass.
"""
from __future__ import annotations

from cato_migrate.acceptance.suite import nonce
from cato_migrate.core.probes import ProbeResult

_NAMES = ["Alice", "Bartholomew", "Cressida", "Dmitri", "Eulalia", "Fitzgerald"]
_CITIES = ["Lisbon", "Porto", "Oslo", "Bergen", "Kyoto", "Quito"]


def _unique(pool: list[str]) -> str:
    """A proper noun the simulator (and any model) reads as a name, unique to this call."""
    tag = nonce()
    return pool[int(tag, 16) % len(pool)] + "".join(chr(97 + int(c, 16)) for c in tag[:4]).capitalize()


def _session() -> str:
    return "accept-mem-" + nonce()


def _say(api, text: str, session: str | None) -> str:
    return api.chat(text, session_id=session)["choices"][0]["message"]["content"]


def case_recall_across_turns(api) -> ProbeResult:
    s, name, city = _session(), _unique(_NAMES), _unique(_CITIES)
    _say(api, f"My name is {name}", s)
    _say(api, f"I live in {city}", s)
    _say(api, f"What is 2+2? ({nonce()})", s)
    got_name, got_city = _say(api, "What is my name?", s), _say(api, "Where do I live?", s)
    ok = name in got_name and city in got_city
    return ProbeResult("recall_across_turns", ok,
                       f"after 3 turns: {got_name!r} / {got_city!r}" + ("" if ok else f" (expected {name}, {city})"),
                       evidence={"session": s, "name": name, "city": city, "answers": [got_name, got_city]})


def case_no_leak_to_other_session(api) -> ProbeResult:
    s, name, city = _session(), _unique(_NAMES), _unique(_CITIES)
    _say(api, f"My name is {name} and I live in {city}", s)
    # the owner asks first, so an answer cached in too wide a scope would be served next
    own = [_say(api, "What is my name?", s), _say(api, "Where do I live?", s)]
    other = _session()
    answers = [_say(api, "What is my name?", other), _say(api, "Where do I live?", other)]
    # the owner's facts, or the owner's very answer (a cache shared across sessions), is a leak
    leaked = [a for a, o in zip(answers, own) if name in a or city in a or a == o]
    recalled = name in own[0] and city in own[1]
    ok = recalled and not leaked
    msg = (f"another session answered {answers!r}" + ("; LEAKED" if leaked else "")
           + ("" if recalled else f"; own session did not recall {name}/{city} ({own!r})"))
    return ProbeResult("no_leak_to_other_session", ok, msg,
                       evidence={"session": s, "other": other, "own": own, "other_answers": answers})


def case_interleaved_sessions(api) -> ProbeResult:
    a, b = _session(), _session()
    na, nb = _unique(_NAMES), _unique(_NAMES)
    _say(api, f"My name is {na}", a)
    _say(api, f"My name is {nb}", b)
    ra, rb = _say(api, "What is my name?", a), _say(api, "What is my name?", b)
    ok = na in ra and nb not in ra and nb in rb and na not in rb
    return ProbeResult("interleaved_sessions", ok, f"session A: {ra!r}, session B: {rb!r}"
                       + ("" if ok else f" (expected A={na}, B={nb}, neither the other's)"),
                       evidence={"a": a, "b": b, "names": [na, nb], "answers": [ra, rb]})


def case_latest_statement_wins(api) -> ProbeResult:
    s, old, new = _session(), _unique(_CITIES), _unique(_CITIES)
    _say(api, f"I live in {old}", s)
    _say(api, f"I live in {new}", s)
    got = _say(api, "Where do I live?", s)
    ok = new in got and old not in got
    return ProbeResult("latest_statement_wins", ok, f"after moving {old} -> {new}: {got!r}"
                       + ("" if ok else " (history lost or out of order)"),
                       evidence={"session": s, "old": old, "new": new, "answer": got})


def case_streamed_turn_remembered(api) -> ProbeResult:
    s, name = _session(), _unique(_NAMES)
    streamed = api.chat_stream(f"My name is {name}", session_id=s)
    got = _say(api, "What is my name?", s)
    ok = name in got
    return ProbeResult("streamed_turn_remembered", ok, f"after a streamed turn: {got!r}"
                       + ("" if ok else f" (expected {name})"),
                       evidence={"session": s, "name": name, "streamed": "".join(streamed["deltas"]), "answer": got})


def case_sessionless_keeps_nothing(api) -> ProbeResult:
    name = _unique(_NAMES)
    _say(api, f"My name is {name}", None)
    got = _say(api, "What is my name?", None)
    ok = name not in got
    return ProbeResult("sessionless_keeps_nothing", ok, f"a request with no session answered {got!r}"
                       + ("" if ok else "; context LEAKED across requests with no session"),
                       evidence={"name": name, "answer": got})


CASES = [case_recall_across_turns, case_no_leak_to_other_session, case_interleaved_sessions,
         case_latest_statement_wins, case_streamed_turn_remembered, case_sessionless_keeps_nothing]
