"""Whether an answer may depend on who is asking, which decides its cache scope.

A query that refers to the speaker or to earlier turns ("my name", "that", "it") can only be
answered from someone's context; its answer is cached for that user/session alone and never
served to anyone else. Everything else is context-free and shares the global scope.
"""
from __future__ import annotations

import re

_DEPENDENT = re.compile(
    r"\b(i|i'm|i've|i'd|me|my|mine|myself|we|us|our|ours|earlier|previous|previously|above|again|"
    r"it|that|this|those|these|they|them|he|she|him|her|his|hers|their|theirs)\b",
    re.IGNORECASE)


# "How do I ...", "Can we ..." ask for general instructions, not about the speaker. "What/where/
# when do I" only when an instruction verb follows: "Where do I live?" and "What do I like?" are
# about the speaker and must never reach the global cache.
_HOWTO_VERB = (r"(find|get|put|set|store|save|configure|install|download|start|stop|run|use|call|type|"
               r"need|change|enable|disable|add|remove|look|go|send|report|check|see|sign|log|register)")
_GENERIC_ASKER = re.compile(
    r"\b(how (do|can|should|would|could) (i|we)|(can|could|should|may) (i|we)|do (i|we) need( to)?|"
    r"(what|where|when) (do|should|can) (i|we)(?= " + _HOWTO_VERB + r"\b)|is it|it is|it's)\b",
    re.IGNORECASE)


def depends_on_context(query: str) -> bool:
    return bool(_DEPENDENT.search(_GENERIC_ASKER.sub(" ", query)))


def cache_scope(query: str, *, user_id: str | None, session_id: str | None) -> str | None:
    """The scope to look up and store in; None means do not cache at all."""
    if not depends_on_context(query):
        return "global"
    if user_id:
        return f"user:{user_id}"
    if session_id:
        return f"session:{session_id}"
    return None
