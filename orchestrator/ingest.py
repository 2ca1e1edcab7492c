"""Exchanges served by the legacy stack, written into this stack's session memory (dual-write).

While the traffic flag is between 0 and 100 (and for a while after a rollback), the gateway
sends every exchange LiteLLM served to `POST /v1/cato/exchanges` (cato_migrate/edge/dual_write.py),
so a user the flag moves here finds their conversation. The body::

    {"id": "<idempotency key>", "user": "...", "session_id": "...",   # user and/or session_id
     "messages": [<the request's messages>], "answer": "<assistant text>", "model": "..."}

What is stored is exactly what a chat request here would have stored for the same turn: the last
(user) message and the answer, appended to the session a chat by that caller would use (the
`x-session-id`, else `user`; README "Conversation and session memory"), inside the principal of
the key that sent it (`identity.scoped`): one key can never write another principal's history.
So a later chat that sends only its new turn gets the legacy turns filled in.

Idempotent by id, per principal (orchestrator/memory/ingest_ledger.py): a retried ingest stores
once. Answers: 200 `{"stored": true}` or `{"stored": false, "duplicate": true}`; 400/413 for a body
that is not well formed (OpenAI's error shape, nothing written); 401 for a wrong key; 409 while
the same id is being written by another request; 503 when session memory refused the write
(the sender retries). Framework-free: serve_app.py wraps `parse_exchange` and `ingest`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from orchestrator.api_errors import ApiError, bad_request
from orchestrator.chat_request import SESSION_TURN_MAX_BYTES, _kind, _messages, check_identifier
from orchestrator.identity import scoped
from orchestrator.memory.ingest_ledger import Claim, IngestLedger
from orchestrator.ports import Message

log = logging.getLogger(__name__)

FIELDS = frozenset({"id", "user", "session_id", "messages", "answer", "model"})
MODEL_MAX_CHARS = 256


@dataclass(frozen=True)
class Exchange:
    """One exchange another stack served, judged and ready to store."""
    id: str
    session_id: str            # the client's id: session_id, else user (as parse_chat chooses)
    question: Message          # the request's last message: the user's turn
    answer: Message
    model: str | None = None


def parse_exchange(body: Any) -> Exchange:
    """The ingest body, or an ApiError (400; 413 for a turn larger than session memory keeps)."""
    if not isinstance(body, dict):
        raise bad_request(f"the request body must be a JSON object, got {_kind(body)}", None, "invalid_type")
    body = {k: v for k, v in body.items() if v is not None}
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise bad_request(f"unknown field {unknown[0][:100]!r}; an exchange has {', '.join(sorted(FIELDS))}",
                          unknown[0][:100], "unknown_parameter")
    if "id" not in body:
        raise bad_request("'id' (the idempotency key of the exchange) is required", "id", "missing_required_parameter")
    ident = check_identifier(body["id"], "id")
    if not ident.strip():
        raise bad_request("'id' must not be empty", "id", "empty_content")
    user = check_identifier(body["user"], "user") if "user" in body else None
    session = check_identifier(body["session_id"], "session_id") if "session_id" in body else None
    session_id = session or user
    if not session_id:
        raise bad_request("an exchange needs 'session_id' or 'user': without one, no later request could find it",
                          "user", "missing_required_parameter")
    question = _messages(body.get("messages"))[-1]   # the same judgement as a chat request's messages
    answer = body.get("answer")
    if not isinstance(answer, str):
        raise bad_request(f"'answer' must be a string, got {_kind(answer)}", "answer", "invalid_type")
    if not answer.strip():
        raise bad_request("'answer' is empty: there is no exchange to remember", "answer", "empty_content")
    for param, text in (("messages", question.content), ("answer", answer)):
        if len(text.encode("utf-8", "surrogatepass")) > SESSION_TURN_MAX_BYTES:
            raise ApiError(413, f"the {'user turn' if param == 'messages' else 'answer'} is over "
                                f"{SESSION_TURN_MAX_BYTES} bytes, more than session memory keeps for one turn",
                           param=param, code="turn_too_large")
    model = body.get("model")
    if model is not None and (not isinstance(model, str) or len(model) > MODEL_MAX_CHARS):
        raise bad_request(f"'model' must be a string of at most {MODEL_MAX_CHARS} characters", "model", "invalid_type")
    return Exchange(ident, session_id, question, Message("assistant", answer), model)


async def ingest(orch: Any, ledger: IngestLedger, principal: str, exchange: Exchange) -> dict:
    """Store the exchange once in the caller's session; the answer for the HTTP client.

    Written before the answer (not behind it, as a chat's turn is): 200 means stored, so the
    gateway counts it stored and stops retrying."""
    key = f"{principal}/{exchange.id}"
    claim = await ledger.claim(key)
    if claim is Claim.DONE:
        return _answer(exchange, stored=False, duplicate=True)
    if claim is Claim.BUSY:
        raise ApiError(409, f"exchange {exchange.id!r} is being stored by another request; retry",
                       param="id", code="ingest_in_progress", headers={"Retry-After": "1"})
    session_key = scoped(principal, exchange.session_id)
    try:
        await orch.writes.settle(session_key)   # after this replica's pending write of that session
        await _append(orch.working, session_key, exchange.question, exchange.answer)
    except Exception as exc:  # noqa: BLE001 — whatever the store raised, the sender's retry is the remedy
        if claim is Claim.NEW:
            await ledger.release(key)
        log.exception("ingest of exchange %s into session %s failed", exchange.id, session_key)
        raise ApiError(503, f"session memory did not take the exchange ({type(exc).__name__}); retry",
                       code="memory_unavailable", headers={"Retry-After": "1"}) from None
    if claim is Claim.NEW:
        await ledger.done(key)
    return _answer(exchange, stored=True, duplicate=False)


async def _append(working: Any, session_key: str, question: Message, answer: Message) -> None:
    exchange = getattr(working, "append_exchange", None)
    if exchange is not None:   # one durable write for both turns, as a chat's turn is stored
        await exchange(session_key, question, answer)
        return
    await working.append(session_key, question)
    await working.append(session_key, answer)


def _answer(exchange: Exchange, *, stored: bool, duplicate: bool) -> dict:
    return {"object": "cato.exchange", "id": exchange.id, "session_id": exchange.session_id,
            "stored": stored, "duplicate": duplicate}
