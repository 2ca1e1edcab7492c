"""Which cache scope an answer may be stored in and served from: it follows what the model saw.

A scope is `<principal>|<audience>|<key digest>`, and a lookup never crosses scopes:

* principal: every API key's principal has its own partition; nothing is shared across keys.
* audience: `shared` only when the model saw nothing but the question itself: no system prompt,
  no earlier turns (sent by the client or filled in from session memory), and a question that
  does not refer to the speaker ("my", "it", "that": `context_scope.depends_on_context`).
  Otherwise the answer belongs to its `user:<id>`, else its `session:<id>`, else it is not
  cached at all. So an answer shaped by anyone's history or instructions is never readable by
  another user, and text planted in one's own history can't reach anyone else.
* key digest: the model asked for (a pinned tier, or "routed" for `cato`/`auto`: a paraphrase may
  route to another tier, and a routed request accepts any tier's answer), the system prompt and
  history the model saw (hashed), and the sampling
  parameters that change the answer (temperature, top_p, max_tokens, stop). A private answer is
  therefore served again only for the same context, never for a later turn whose history has moved on.

Temperature: part of the key (a paraphrase at temperature 0 never gets an answer sampled at
0.9), and answers sampled above `max_temperature` are not cached at all: a caller asking for
variety should get a fresh sample.
"""
from __future__ import annotations

import hashlib
import json
from typing import Sequence

from orchestrator.chat_request import ChatRequest
from orchestrator.context_scope import depends_on_context
from orchestrator.ports import Message, ModelTier

ROUTED = "routed"


def cache_scope_for(request: ChatRequest, principal: str, pinned: ModelTier | None, history: Sequence[Message], *,
                    max_temperature: float = 1.0) -> str | None:
    """The scope for this request's answer, or None: do not cache it."""
    s = request.sampling
    if s.temperature > max_temperature:
        return None
    context = [*request.system, *history]
    if not context and not depends_on_context(request.query):
        audience = "shared"
    elif request.user:
        audience = f"user:{request.user}"
    elif request.session_id:
        audience = f"session:{request.session_id}"
    else:
        return None
    material = json.dumps({"model": pinned.value if pinned else ROUTED, "context": [[m.role, m.content] for m in context],
                           "temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens,
                           "stop": list(s.stop)}, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"{principal}|{audience}|{digest}"


def is_shared(scope: str) -> bool:
    return scope.split("|", 2)[1:2] == ["shared"]
