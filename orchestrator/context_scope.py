"""Whether a question refers to the speaker or to earlier turns, judged from its words alone.

A query that refers to the speaker or to earlier turns ("my name", "that", "it", "continue")
can only be answered from someone's context. This is one input of `cache_policy`, which
decides scopes from what the model actually saw (system prompt, history); the words alone
never make an answer shareable.
"""
from __future__ import annotations

import re

_DEPENDENT = re.compile(
    r"\b(i|i'm|i've|i'd|me|my|mine|myself|we|us|our|ours|earlier|previous|previously|above|again|"
    r"it|that|this|those|these|they|them|he|she|him|her|his|hers|their|theirs|"
    r"continue|go on|conversation|so far|summari[sz]e|translate|rephrase|rewrite|the doctor)\b",
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
