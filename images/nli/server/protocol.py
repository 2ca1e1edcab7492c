"""NLI wire contract (pure: no torch; unit-tested outside the image).

Request (POST /invocations, application/json), either form:

    {"premise": "The user lives in Paris.", "hypothesis": "The user lives in Rome."}
    {"inputs": {"text": "...", "text_pair": "..."}}          (Hugging Face pair form)

Response (the model simulator serves the same shape; see images/README.md):

    {"label": "contradiction",
     "scores": {"entailment": 0.01, "neutral": 0.02, "contradiction": 0.97}}

Errors: HTTP 400 {"error": "...", "code": "bad_request"}.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

LABELS = ("entailment", "neutral", "contradiction")
MAX_CHARS = 20_000


class BadRequest(ValueError):
    """The body does not follow the contract (answered 400)."""


def parse_request(body: Any) -> tuple[str, str]:
    """(premise, hypothesis)."""
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    if "premise" in body or "hypothesis" in body:
        pair = body.get("premise"), body.get("hypothesis")
    elif isinstance(body.get("inputs"), dict):
        pair = body["inputs"].get("text"), body["inputs"].get("text_pair")
    else:
        raise BadRequest("body needs 'premise' and 'hypothesis', or 'inputs': {'text', 'text_pair'}")
    if not all(isinstance(t, str) and t.strip() for t in pair):
        raise BadRequest("premise and hypothesis must be non-empty strings")
    if sum(len(t) for t in pair) > MAX_CHARS:
        raise BadRequest(f"premise + hypothesis exceed {MAX_CHARS} characters")
    return pair[0], pair[1]


def label_order(id2label: dict[int, str]) -> list[str]:
    """The model's output order as our labels (MNLI checkpoints say e.g. {0: "CONTRADICTION", ...})."""
    names = [str(id2label[i]).lower() for i in sorted(id2label)]
    if sorted(names) != sorted(LABELS):
        raise ValueError(f"the model's labels {names} are not entailment/neutral/contradiction")
    return names


def softmax(logits: Sequence[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(x - top) for x in logits]
    total = math.fsum(exps)
    return [e / total for e in exps]


def response(logits: Sequence[float], order: Sequence[str]) -> dict[str, Any]:
    probs = softmax(logits)
    scores = {name: round(p, 6) for name, p in zip(order, probs)}
    label = max(scores, key=lambda name: scores[name])
    return {"label": label, "scores": {name: scores[name] for name in LABELS}}


def error(message: str, code: str = "bad_request") -> dict[str, str]:
    return {"error": message, "code": code}
