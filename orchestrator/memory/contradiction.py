"""Does a new fact contradict, repeat, or add to what we already know?

`ContradictionDetector.relation(premise, hypothesis)` answers with an NLI label:
"entailment" (the premise already says the hypothesis), "contradiction" (both cannot hold) or
"neutral". Semantic memory asks it with premise = a stored fact, hypothesis = the new one.

* `LexicalContradictionDetector` is pure and cheap: it understands sentences shaped like
  "X is [not] Y" and "X has [no] [N] Y" (present or past tense, contractions included) with
  the same subject, and answers "neutral" for anything else rather than guess.
* `NliContradictionDetector` asks an NLI model (DeBERTa-MNLI in production, the model
  simulator in the sandbox) through a Backend; anything it cannot parse is "neutral".
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Literal, Protocol

from orchestrator.ports import Backend, Message

log = logging.getLogger(__name__)

Relation = Literal["entailment", "neutral", "contradiction"]
LABELS: tuple[Relation, ...] = ("entailment", "contradiction", "neutral")


class ContradictionDetector(Protocol):
    async def relation(self, premise: str, hypothesis: str) -> Relation: ...


# -- lexical ------------------------------------------------------------------------------------
_ARTICLES = re.compile(r"^(?:the|a|an)\s+")
_NUMBER = re.compile(r"^(-?\d+(?:[.,]\d+)*)\s*(.*)$")
# verb phrase -> (kind, tense, negated)
_VERBS: dict[str, tuple[str, str, bool]] = {}
for _word, _kind, _tense in (("is", "be", "now"), ("are", "be", "now"), ("was", "be", "past"),
                             ("were", "be", "past"), ("has", "have", "now"), ("have", "have", "now"),
                             ("had", "have", "past")):
    _VERBS[_word] = (_kind, _tense, False)
    _VERBS[_word + " not"] = (_kind, _tense, True)
    _VERBS[_word + "n't"] = (_kind, _tense, True)
for _aux, _tense in (("does", "now"), ("do", "now"), ("did", "past")):
    for _neg in (" not", "n't"):
        _VERBS[f"{_aux}{_neg} have"] = ("have", _tense, True)
_VERB_RE = re.compile(r"\s(" + "|".join(sorted((re.escape(v) for v in _VERBS), key=len, reverse=True))
                      + r")\s+")
_NEG_PREFIX = re.compile(r"^(?:no longer|not|no|never)\s+")


@dataclass(frozen=True)
class Claim:
    subject: str
    kind: str        # "be" | "have"
    tense: str       # "now" | "past"
    negated: bool
    value: str       # normalised object; for counts, the noun after the number
    number: float | None = None


def normalise(text: str) -> str:
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[\s]+", " ", text).strip()
    return re.sub(r"[.!?;:,]+$", "", text).strip()


def _strip_article(text: str) -> str:
    return _ARTICLES.sub("", text.strip())


def parse_claim(text: str) -> Claim | None:
    """Parse "X is [not] Y" / "X has [no] [N] Y" (first verb wins), or None."""
    sent = normalise(text)
    m = _VERB_RE.search(" " + sent + " ")
    if not m:
        return None
    subject = _strip_article(sent[: m.start()])
    rest = sent[m.end() - 1:].strip()
    kind, tense, negated = _VERBS[m.group(1)]
    neg = _NEG_PREFIX.match(rest)
    if neg:
        negated, rest = not negated, rest[neg.end():]
    value = _strip_article(rest)
    if not subject or not value:
        return None
    number = None
    num = _NUMBER.match(value)
    if num:
        number = float(num.group(1).replace(",", ""))
        value = _strip_article(num.group(2))
    return Claim(subject, kind, tense, negated, value, number)


def lexical_relation(premise: str, hypothesis: str) -> Relation:
    if normalise(premise) == normalise(hypothesis):
        return "entailment"
    a, b = parse_claim(premise), parse_claim(hypothesis)
    if a is None or b is None or a.subject != b.subject or (a.kind, a.tense) != (b.kind, b.tense):
        return "neutral"
    if a.number is not None or b.number is not None:     # "X has 3 offices" vs "X has 5 offices"
        if a.value != b.value or a.number is None or b.number is None:
            return "neutral"
        same = a.number == b.number
        if a.negated and b.negated:
            return "entailment" if same else "neutral"
        if a.negated or b.negated:      # "has 3 offices" vs "does not have 3 offices"
            return "contradiction" if same else "neutral"
        return "entailment" if same else "contradiction"
    if a.value == b.value:
        return "entailment" if a.negated == b.negated else "contradiction"
    if a.kind == "be" and not a.negated and not b.negated:
        return "contradiction"    # "X is Y" vs "X is Z": one value replaces the other
    return "neutral"              # "X has a car" / "X has a dog"; "X is not Y" / "X is Z"


class LexicalContradictionDetector:
    async def relation(self, premise: str, hypothesis: str) -> Relation:
        return lexical_relation(premise, hypothesis)


# -- NLI model ------------------------------------------------------------------------------------
NLI_SYSTEM_PROMPT = ("NLI\nClassify the relation between the premise and the hypothesis. "
                     "Answer with exactly one word: entailment, neutral or contradiction.")


def parse_nli_label(text: str) -> Relation | None:
    """The label of a model's answer: JSON {"label": ...} (the simulator's and HF's shape), else
    the first label word in the text ('CONTRADICTION.', 'entailment, not ...')."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, list) and data and all(isinstance(d, dict) for d in data):
        data = max(data, key=lambda d: d.get("score", 0))     # [{"label", "score"}, ...]
    if isinstance(data, dict) and str(data.get("label", "")).lower() in LABELS:
        return str(data["label"]).lower()  # type: ignore[return-value]
    found = [(m.start(), label) for label in LABELS
             if (m := re.search(rf"\b{label}\b", text, re.IGNORECASE))]
    return min(found)[1] if found else None


class NliContradictionDetector:
    """Asks an NLI model. Wire contract (the simulator answers it): a chat whose system prompt
    starts with "NLI" and whose user message is "premise: <p>\\nhypothesis: <h>", sent to an NLI
    model (the simulator answers as NLI any model id containing "nli"); the answer is JSON
    {"label": ...} or text containing one of the three labels. Failures and unparsable answers
    give "neutral"."""

    def __init__(self, backend: Backend, *, max_tokens: int = 8):
        self.backend, self.max_tokens = backend, max_tokens

    async def relation(self, premise: str, hypothesis: str) -> Relation:
        from orchestrator.ports import BackendError

        messages = [Message("system", NLI_SYSTEM_PROMPT),
                    Message("user", f"premise: {premise}\nhypothesis: {hypothesis}")]
        try:
            completion = await self.backend.complete(messages, max_tokens=self.max_tokens, temperature=0.0)
        except BackendError as exc:
            log.warning("NLI model unavailable (%s); treating the facts as unrelated", exc)
            return "neutral"
        label = parse_nli_label(completion.text)
        if label is None:
            log.warning("NLI model answered %r, no label; treating the facts as unrelated",
                        completion.text[:80])
            return "neutral"
        return label
