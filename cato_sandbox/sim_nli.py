"""Three-way NLI for the model simulator, by deterministic rules (pure, no I/O).

No MNLI model ships in any installable package (see measured-facts), so the simulator stands
in with rules good enough to drive a memory-conflict pipeline end to end:

1. the same subject and attribute with a different value of a single-valued attribute
   ("The user lives in Paris" / "The user lives in London") -> contradiction;
2. the same claim with opposite polarity ("likes tea" / "does not like tea",
   "X is open" / "X is not open") -> contradiction;
3. every content word of the hypothesis appears in the premise -> entailment;
4. otherwise neutral.
"""
from __future__ import annotations

import json
import re

from cato_sandbox import sim_facts

LABELS = ("entailment", "neutral", "contradiction")
_NEGATIONS = {"not", "no", "never", "cannot"}
_FILLER = {"a", "an", "the", "is", "are", "was", "were", "be", "does", "do", "did", "of", "to",
           "in", "at", "on", "and", "that", "this", "it", "very", "really", "also", "too"}
_RELATION = re.compile(
    r"^(?P<s>.+?)\s+(?P<r>(?:is|are|was|were)(?:\s+(?:not|never))?|(?:does|do|did)\s+not\s+\w+|"
    r"never\s+\w+|lives in|works (?:at|for)|has|have|owns|likes|loves|enjoys)\s+(?P<v>.+)$")
_MULTI_RELATIONS = {"has", "own", "like", "love", "enjoy"}


def scores_for(label: str) -> dict[str, float]:
    return {name: (0.9 if name == label else 0.05) for name in LABELS}


def nli(premise: str, hypothesis: str) -> dict:
    """{"label": ..., "scores": {entailment, neutral, contradiction}} for the pair."""
    label = _label(premise, hypothesis)
    return {"label": label, "scores": scores_for(label)}


def nli_from_text(text: str) -> dict:
    """NLI for a chat turn: JSON {"premise", "hypothesis"} or "premise: ...\\nhypothesis: ..."."""
    try:
        data = json.loads(text)
        if isinstance(data, dict) and "premise" in data and "hypothesis" in data:
            return nli(str(data["premise"]), str(data["hypothesis"]))
    except ValueError:
        pass
    m = re.search(r"premise\s*:\s*(?P<p>.+?)\s*hypothesis\s*:\s*(?P<h>.+)", text, re.I | re.S)
    if m:
        return nli(m.group("p"), m.group("h"))
    return {"label": "neutral", "scores": scores_for("neutral")}


def _label(premise: str, hypothesis: str) -> str:
    p_claims, h_claims = _claims(premise), _claims(hypothesis)
    for hs, hr, hv, hneg in h_claims:
        for ps, pr, pv, pneg in p_claims:
            if (ps, pr) != (hs, hr):
                continue
            if pv != hv and (f" {hv} " in f" {pv} " or f" {pv} " in f" {hv} "):
                continue  # "Paris and works at Acme" vs "Paris": a clause we could not split
            same_value = pv == hv
            if same_value and pneg != hneg:
                return "contradiction"
            if (not same_value and not pneg and not hneg and hr not in _MULTI_RELATIONS
                    and not _article(pv) and not _article(hv)):
                return "contradiction"
    p_words, h_words = _words(premise), _words(hypothesis)
    p_neg, h_neg = p_words & _NEGATIONS, h_words & _NEGATIONS
    if bool(p_neg) != bool(h_neg) and (h_words - _NEGATIONS) <= (p_words - _NEGATIONS):
        return "contradiction"
    if bool(p_neg) != bool(h_neg) and (p_words - _NEGATIONS) == (h_words - _NEGATIONS):
        return "contradiction"
    if h_words and h_words <= p_words:
        return "entailment"
    return "neutral"


def _article(value: str) -> bool:
    """"Paris is a city" / "Paris is a capital": class membership, not a single value."""
    return value.startswith(("a ", "an "))


def _claims(text: str) -> list[tuple[str, str, str, bool]]:
    """(subject, relation, value, negated) for each clause we can read."""
    out: list[tuple[str, str, str, bool]] = []
    for sentence in sim_facts.split_sentences(text):
        for clause in sim_facts.split_clauses(sentence):
            st = sim_facts.parse_clause(clause)
            if st is not None:
                rel, neg = ("like", st.attribute == "dislikes") if st.attribute in (
                    "likes", "dislikes") else (st.attribute, False)
                out.append(("user", rel, _norm(st.value), neg))
                continue
            m = _RELATION.match(_expand(sim_facts.first_person(clause)).rstrip(".!? "))
            if m:
                words = m.group("r").split()
                neg = "not" in words or "never" in words
                rel = " ".join(_stem(w) for w in words if w not in ("not", "never", "does", "do", "did"))
                rel = {"are": "is", "was": "is", "were": "is", "have": "has"}.get(rel, rel)
                out.append((_norm(m.group("s")), rel, _norm(m.group("v")), neg))
    return out


def _expand(text: str) -> str:
    """"doesn't" -> "does not", "isn't" -> "is not" (so negation is one word everywhere)."""
    return re.sub(r"n't\b", " not", text.replace("can't", "can not").replace("won't", "will not"))


def _stem(word: str) -> str:
    """"likes" -> "like", "lives" -> "live": enough to match a claim with its negation."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def _words(text: str) -> set[str]:
    lowered = _expand(sim_facts.first_person(text))
    return {_stem(w) for w in re.findall(r"[a-z0-9']+", lowered) if w not in _FILLER}
