"""What the model simulator answers (pure, deterministic, no I/O).

The answer depends ONLY on the messages sent: personal questions are answered from the
statements in the user/system turns (`sim_facts`), arithmetic from the last user turn, and
anything else with a stable sentence derived from a hash of the last user turn. Earlier turns
never leak into an answer except through those rules, so "Your name is Alice." proves that the
history (or memory injected into the system prompt) reached the model.
"""
from __future__ import annotations

import ast
import hashlib
import json
import math
import operator
import re
from typing import Iterable

from cato_sandbox import sim_facts
from cato_sandbox.sim_nli import nli_from_text

TIERS = ("bedrock_haiku", "bedrock_sonnet", "shadow_self")
EXTRACT_PREFIX = "EXTRACT_FACTS"   # system prompt asking for facts as a JSON array
NLI_PREFIX = "NLI"                 # system prompt asking for a premise/hypothesis label


def tier_for(model_id: str, default: str = "shadow_self") -> str:
    """"...haiku..." -> bedrock_haiku, "...sonnet..." -> bedrock_sonnet, "...shadow..." ->
    shadow_self; anything else -> `default` (self-hosted names: vLLM / SageMaker)."""
    name = model_id.lower()
    for word, tier in (("haiku", "bedrock_haiku"), ("sonnet", "bedrock_sonnet"),
                       ("shadow", "shadow_self")):
        if word in name:
            return tier
    return default


def is_shadow(model_id: str) -> bool:
    return "shadow" in model_id.lower()


def is_nli(model_id: str) -> bool:
    return "nli" in model_id.lower()


def tokens(text: str) -> list[str]:
    """Output "tokens": each word with the whitespace before it, so "".join() gives the text."""
    return re.findall(r"\s*\S+", text)


def count_tokens(texts: Iterable[str]) -> int:
    return sum(len(t.split()) for t in texts)


def respond(messages: list[dict], model_id: str = "", tier: str | None = None) -> str:
    """The answer to a conversation: `messages` are {"role", "content": str}, oldest first."""
    system = "\n".join(m["content"] for m in messages if m["role"] == "system")
    users = [m["content"] for m in messages if m["role"] == "user"]
    last = users[-1] if users else ""
    if system.lstrip().startswith(EXTRACT_PREFIX):
        return json.dumps(sim_facts.extract_facts("\n".join(users)))
    if is_nli(model_id) or system.lstrip().startswith(NLI_PREFIX):
        # compact: one "token", so even a tiny max_tokens cannot cut the JSON in half
        return json.dumps(nli_from_text(last), separators=(",", ":"))
    # Context = what the user said and what the system prompt (e.g. recalled memory) says.
    known = sim_facts.profile([system] + users[:-1] + [last])
    return (answer_personal(last, known) or answer_arithmetic(last)
            or acknowledge(last) or generic_answer(last, tier))


# --- personal questions ---------------------------------------------------------------------

_Q = [(re.compile(p), a) for p, a in [
    (r"\b(?:what(?:'s| is) my name|who am i|(?:do you )?(?:know|remember) my name|"
     r"what am i called)\b", "name"),
    (r"\b(?:where do i (?:live|reside)|what city do i live in|where am i living|"
     r"which city (?:do i live in|am i in))\b", "city"),
    (r"\b(?:where am i from|where do i come from)\b", "hometown"),
    (r"\b(?:how old am i|what(?:'s| is) my age)\b", "age"),
    (r"\b(?:where do i work|who do i work for|what company do i work for)\b", "employer"),
    (r"\b(?:what do i do(?: for (?:a )?(?:living|work))?|what(?:'s| is) my "
     r"(?:job|occupation|profession))\b", "job"),
    (r"\bwhat do i (?:like|love|enjoy)\b", "likes"),
    (r"\bwhat do i (?:hate|dislike|not like)\b", "dislikes"),
    (r"\bdo i (?:like|love|enjoy) (?P<x>[^?.!]+)", "like?"),
    (r"\bwhat(?:'s| is) my favou?rite (?P<k>[a-z]+)\b", "favorite {k}"),
    (r"\bwhat(?:'s| is) my (?P<k>[a-z']+(?: [a-z]+)??)\s*\??$", "{k}"),
]]
_PHRASES = {
    "name": ("Your name is {v}.", "your name"),
    "city": ("You live in {v}.", "where you live"),
    "hometown": ("You are from {v}.", "where you are from"),
    "age": ("You are {v} years old.", "your age"),
    "employer": ("You work at {v}.", "where you work"),
    "job": ("You work as {a}.", "what you do"),
}


def answer_personal(question: str, known: dict[str, object]) -> str | None:
    q = sim_facts.first_person(question).rstrip(" ?.!")
    for pattern, attr in _Q:
        m = pattern.search(q + ("?" if "{k}" in attr else ""))
        if not m:
            continue
        if attr == "like?":
            return _do_i_like(m.group("x").strip(), known)
        if "{k}" in attr:
            attr = attr.format(k=m.group("k"))
        if attr in ("likes", "dislikes"):
            items: list[str] = known[attr]  # type: ignore[assignment]
            if not items:
                return f"I don't know what you {'like' if attr == 'likes' else 'dislike'} yet."
            verb = "like" if attr == "likes" else "don't like"
            return f"You {verb} {_join(items)}."
        value = known.get(attr)
        answer, unknown = _PHRASES.get(attr, (f"Your {attr} is {{v}}.", f"your {attr}"))
        if value is None:
            return f"I don't know {unknown} yet."
        return answer.format(v=value, a=sim_facts.with_article(str(value)))
    return None


def _do_i_like(thing: str, known: dict[str, object]) -> str:
    key = thing.lower()

    def hit(items: object) -> bool:
        return any(key in v.lower() or v.lower() in key for v in items)  # type: ignore[attr-defined]

    if hit(known["likes"]):
        return f"Yes, you like {thing}."
    if hit(known["dislikes"]):
        return f"No, you don't like {thing}."
    return f"I don't know whether you like {thing}."


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def acknowledge(text: str) -> str | None:
    """A reply to a turn that only states personal facts (it repeats the current turn only)."""
    if "?" in text:
        return None
    found = sim_facts.statements(text)
    if not found:
        return None
    names = [s.value for s in found if s.attribute == "name"]
    greeting = f"Nice to meet you, {names[-1]}. " if names else ""
    return greeting + "I'll remember that."


# --- arithmetic -----------------------------------------------------------------------------

_WORDS = [(r"\bplus\b", "+"), (r"\bminus\b", "-"), (r"\b(?:times|multiplied by)\b", "*"),
          (r"(?<=\d)\s*[x×]\s*(?=\d)", "*"), (r"\b(?:divided by|over)\b", "/"), ("÷", "/")]
_EXPR = re.compile(r"[-(]*\d[\d.\s]*(?:[-+*/]\s*[(\s]*\d[\d.\s]*\)*\s*)+")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv, ast.USub: operator.neg, ast.UAdd: operator.pos}


def answer_arithmetic(text: str) -> str | None:
    expr = text.lower()
    for pattern, repl in _WORDS:
        expr = re.sub(pattern, repl, expr)
    m = _EXPR.search(expr)
    if not m:
        return None
    try:
        value = _evaluate(ast.parse(m.group(0).strip(), mode="eval").body)
    except ZeroDivisionError:
        return "That is undefined: it divides by zero."
    except (SyntaxError, ValueError, KeyError):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, float):
        value = round(value, 6)
    return f"The answer is {value}."


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp):
        return _OPS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp):
        return _OPS[type(node.op)](_evaluate(node.operand))
    raise ValueError("not arithmetic")


# --- everything else ------------------------------------------------------------------------

_STOP = set("""a an the is are was were be been am do does did what who whom whose which when
where why how can could would should will shall may might must i me my you your we our us it its
this that these those of in on at to for from by with about and or but if then so than as into
please tell explain give show me some any there here just very really also not no yes hi hello
hey thanks thank know want need like let lets""".split())
_BODIES = [
    "the short version is that {t} depends on the context, so start from the basics.",
    "people usually approach {t} step by step and check each assumption on the way.",
    "the key idea behind {t} is to keep things simple and consistent.",
    "{t} has a few common pitfalls; most of them come from skipping the details.",
    "a good first move with {t} is to look at a small, concrete example.",
    "there is no single right answer for {t}, but the trade-offs are well known.",
    "{t} is easier to reason about once you separate what is fixed from what changes.",
    "most guides on {t} agree on the fundamentals and differ only on style.",
]


def topic_words(text: str, limit: int = 6) -> list[str]:
    words: list[str] = []
    for w in re.findall(r"[a-z0-9][a-z0-9'+#.-]*", text.lower()):
        w = w.strip(".'")
        if w and w not in _STOP and w not in words:
            words.append(w)
    return words[:limit]


def generic_answer(text: str, tier: str | None = None) -> str:
    """A stable answer about the last turn's topic words; the hash picks the body and a ref."""
    norm = " ".join(re.findall(r"\w+", text.lower()))
    digest = hashlib.sha256(norm.encode()).hexdigest()
    topic = " ".join(topic_words(text)) or "your message"
    body = _BODIES[int(digest[:8], 16) % len(_BODIES)].format(t=topic)
    where = f", {tier}" if tier else ""
    return f"Answer about {topic} (ref {digest[:8]}{where}): {body[0].upper()}{body[1:]}"


# --- Shadow Self hidden states --------------------------------------------------------------

def hidden_states(text: str, size: int = 64) -> list[float]:
    """A unit vector derived from the text: the sum of one pseudo-random vector per word
    (seeded by the word's SHAKE-256 digest), so texts sharing words point the same way."""
    vec = [0.0] * size
    for word in re.findall(r"\w+", text.lower()) or [""]:
        raw = hashlib.shake_256(word.encode()).digest(2 * size)
        for i in range(size):
            vec[i] += int.from_bytes(raw[2 * i:2 * i + 2], "big") / 32767.5 - 1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [round(v / norm, 6) for v in vec]
