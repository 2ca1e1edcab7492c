"""Personal statements in plain English, for the model simulator (pure, deterministic).

The simulator must only "know" what the conversation told it, so context handling is really
tested. This module turns sentences such as "My name is Alice", "I live in Paris" or the
third-person forms the memory pipeline writes back ("The user lives in Paris.") into
`Statement(attribute, value)`, and renders them back in the third person for fact extraction.
Both directions use the same patterns, so an extracted fact injected as context is understood.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_V = r"(?P<v>[^,;]+?)"          # a value: the rest of the clause (clauses are split first)
_END = r"\s*$"

# (pattern on the first-person, lower-cased clause, attribute). Order matters: specific first.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [(re.compile(p + _END), a) for p, a in [
    (r"^my name is " + _V, "name"),
    (r"^(?:call me|i am called|i'm called|people call me) " + _V, "name"),
    (r"^my favou?rite (?P<k>[a-z]+) is " + _V, "favorite {k}"),
    (r"^i(?: currently| now)? (?:live|reside) in " + _V, "city"),
    (r"^i(?: am|'m) living in " + _V, "city"),
    (r"^i(?: just| recently)? moved to " + _V, "city"),
    (r"^i(?: am|'m) (?:originally )?from " + _V, "hometown"),
    (r"^i come from " + _V, "hometown"),
    (r"^i(?: am|'m) (?P<v>\d+)(?: years? old)?", "age"),
    (r"^i work (?:at|for) " + _V, "employer"),
    (r"^i work as (?:an? )?" + _V, "job"),
    (r"^i (?:do not|don't|dont|never) (?:like|love|enjoy) " + _V, "dislikes"),
    (r"^i (?:hate|dislike|detest) " + _V, "dislikes"),
    (r"^i (?:really |also )?(?:like|love|enjoy|adore) " + _V, "likes"),
    (r"^i(?: am|'m) (?:a big |a huge )?fan of " + _V, "likes"),
    (r"^i(?: am|'m) an? " + _V, "job"),
    (r"^my (?P<k>[a-z']+(?: [a-z]+)?) is " + _V, "{k}"),
]]

# Third person ("The user ...", as written by fact extraction) -> first person, for matching.
_THIRD_PERSON: list[tuple[re.Pattern[str], str]] = [(re.compile(p), r) for p, r in [
    (r"\b(?:the )?user's\b", "my"),
    (r"\b(?:the )?user (?:is|was)\b", "i am"),
    (r"\b(?:the )?user (?:does not|doesn't) ", "i do not "),
    (r"\b(?:the )?user has\b", "i have"),
    (r"\b(?:the )?user (?:lives|resides|works|likes|loves|enjoys|hates|dislikes|comes)\b",
     lambda m: "i " + m.group(0).rsplit(" ", 1)[1][:-1]),
    (r"\b(?:the )?user (moved|prefers)\b", r"i \1"),
]]
_TRAILING = re.compile(r"\s+(?:now|too|as well|these days|nowadays|a lot|very much|so much)$")
_CAPITALISED = {"name", "city", "hometown", "employer"}
MULTI_VALUED = {"likes", "dislikes"}


@dataclass(frozen=True)
class Statement:
    attribute: str   # "name", "city", "likes", "favorite color", or the noun of "my <noun> is"
    value: str       # as written by the user (case kept), trailing filler dropped


def split_sentences(text: str) -> list[str]:
    """Sentences with their closing punctuation ("?" matters: questions are not statements)."""
    parts = re.findall(r"[^.!?\n]+[.!?]*", text)
    return [p.strip() for p in parts if p.strip()]


def split_clauses(sentence: str) -> list[str]:
    """"My name is Alice and I live in Paris" -> two clauses; "I like tea and jazz" stays one."""
    body = sentence.rstrip(".!?").strip()
    parts = re.split(r"\s*[,;]\s*(?:and |but )?(?=(?:i|my|i'm|the user)\b)|\s+(?:and|but)\s+"
                     r"(?=(?:i|my|i'm|the user)\b)", body, flags=re.I)
    return [p.strip() for p in parts if p and p.strip()]


def first_person(clause: str) -> str:
    """Lower-case the clause and rewrite "the user ..." into "i ..." / "my ..."."""
    text = re.sub(r"\s+", " ", clause.strip().lower().replace("’", "'"))
    # Memory injected as "Known facts: - The user ..." or a "user: ..." transcript line.
    text = re.sub(r"^(?:[\w ]{1,40}:\s+)?(?:[-*\u2022]\s*|\d+[.)]\s+)?", "", text)
    text = re.sub(r"^(?:and|but|also|so|well|oh|btw|by the way),? ", "", text)
    for pattern, repl in _THIRD_PERSON:
        text = pattern.sub(repl, text)
    return text


def parse_clause(clause: str) -> Statement | None:
    """The personal statement a clause makes, or None."""
    lowered = first_person(clause)
    for pattern, attribute in _PATTERNS:
        m = pattern.match(lowered)
        if not m:
            continue
        start, end = m.span("v")
        value = _original_case(clause, lowered, start, end)
        value = _TRAILING.sub("", value.strip(" .!\"'")).strip()
        if not value:
            return None
        attr = attribute.format(k=m.group("k")) if "{k}" in attribute else attribute
        if attr in _CAPITALISED:
            value = " ".join(w[:1].upper() + w[1:] for w in value.split())
        return Statement(attr, value)
    return None


def _original_case(clause: str, lowered: str, start: int, end: int) -> str:
    """The value as the user wrote it: find the lower-cased value inside the original clause."""
    value = lowered[start:end]
    idx = clause.lower().replace("’", "'").find(value)
    return clause[idx:idx + len(value)] if idx >= 0 else value


def statements(text: str) -> list[Statement]:
    """Every personal statement in `text`, in order (questions are skipped)."""
    found: list[Statement] = []
    for sentence in split_sentences(text):
        if sentence.endswith("?"):
            continue
        for clause in split_clauses(sentence):
            st = parse_clause(clause)
            if st is not None:
                found.append(st)
    return found


def profile(texts: list[str]) -> dict[str, object]:
    """What the texts say about the user; later statements win, likes accumulate."""
    known: dict[str, object] = {"likes": [], "dislikes": []}
    for text in texts:
        for st in statements(text):
            if st.attribute in MULTI_VALUED:
                other = "dislikes" if st.attribute == "likes" else "likes"
                key = st.value.lower()
                known[other] = [v for v in known[other] if v.lower() != key]  # type: ignore[attr-defined]
                if all(v.lower() != key for v in known[st.attribute]):  # type: ignore[attr-defined]
                    known[st.attribute].append(st.value)  # type: ignore[attr-defined]
            else:
                known[st.attribute] = st.value
    return known


def third_person(st: Statement) -> str:
    """How fact extraction writes a statement down (parse_clause reads it back)."""
    a, v = st.attribute, st.value
    fixed = {
        "name": f"The user's name is {v}.",
        "city": f"The user lives in {v}.",
        "hometown": f"The user is from {v}.",
        "age": f"The user is {v} years old.",
        "employer": f"The user works at {v}.",
        "job": f"The user works as {with_article(v)}.",
        "likes": f"The user likes {v}.",
        "dislikes": f"The user does not like {v}.",
    }
    return fixed.get(a, f"The user's {a} is {v}.")


def with_article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


_NOT_STATEMENT = re.compile(r"^(?:hi|hello|hey|thanks|thank you|please|ok|okay|yes|no|sure|"
                            r"what|who|where|when|why|how|tell|can|could|would|do|does|is|are)\b",
                            re.I)
_VERB = re.compile(r"\b(?:is|are|was|were|has|have|had|will|can|could|does|lives?|works?|likes?|"
                   r"loves?|owns?|needs?|wants?|uses?|makes?|runs?|\w+ed)\b", re.I)


def extract_facts(text: str) -> list[dict[str, str]]:
    """Facts in the declarative sentences of `text`, as `{"subject", "fact"[, "attribute"]}`.

    A labelled transcript ("user: ..." / "assistant: ...", or "Query:" / "Response:" sections)
    gives facts about the user from what the user said, and domain facts ("Machine learning is
    a field of AI") from the model's declarative sentences; the model talking about itself
    ("I am a language model") is not a fact.
    """
    facts: list[dict[str, str]] = []
    seen: set[str] = set()
    for side, is_user in ((user_side(text), True), (model_side(text), False)):
        for fact in _facts_in(side, is_user):
            if fact["fact"] not in seen:
                seen.add(fact["fact"])
                facts.append(fact)
    return facts


def _facts_in(side: str, is_user: bool):
    for sentence in split_sentences(side):
        if sentence.endswith("?") or _NOT_STATEMENT.match(sentence):
            continue
        for clause in split_clauses(sentence):
            if not is_user and _SELF_TALK.match(clause):
                continue  # "I am a language model" is about the model, not the domain
            st = parse_clause(clause) if is_user else None
            if st is not None:
                yield {"subject": "user", "attribute": st.attribute, "fact": third_person(st)}
            elif len(clause.split()) >= 3 and _VERB.search(clause):
                yield {"subject": _subject_of(clause), "fact": clause.rstrip(".!") + "."}


_LABEL = re.compile(r"^\s*(user|human|query|question|assistant|ai|bot|response|answer|system)"
                    r"\s*:\s*(.*)$", re.I)
_USER_LABELS = {"user", "human", "query", "question"}


# The model talking about itself or to the user is not domain knowledge.
_SELF_TALK = re.compile(r"^\s*(i|i'm|i am|i've|my|me|you|your|you're|as an? (ai|assistant|language model)|sorry)\b",
                        re.I)


def model_side(text: str) -> str:
    """The model's part of a labelled transcript (domain knowledge such as "X is Y");
    empty when nothing is labelled as the model's."""
    kept: list[str] = []
    speaker = "user"
    for line in text.splitlines():
        m = _LABEL.match(line)
        if m:
            speaker, line = m.group(1).lower(), m.group(2)
        if speaker not in _USER_LABELS and speaker != "system":
            kept.append(line)
    return "\n".join(kept)


def user_side(text: str) -> str:
    """The user's part of a transcript whose lines (or sections) are labelled by speaker;
    unlabelled text is returned whole."""
    kept: list[str] = []
    speaker = "user"  # text before any label counts as the user's
    for line in text.splitlines():
        m = _LABEL.match(line)
        if m:
            speaker, line = m.group(1).lower(), m.group(2)
        if speaker in _USER_LABELS:
            kept.append(line)
    return "\n".join(kept)


def _subject_of(clause: str) -> str:
    """The words before the first verb: "The Eiffel Tower is in Paris" -> "The Eiffel Tower"."""
    m = _VERB.search(clause)
    head = clause[:m.start()].strip() if m else ""
    return head or clause.split()[0]
