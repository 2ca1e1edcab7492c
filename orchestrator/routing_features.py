"""Complexity signals of a query, for the router: cheap lexical evidence, each with a weight.

Why lexical: routing sits on every request's hot path, before any model runs, so it must cost
microseconds (no model call, no tokenizer). Word cues are set lookups on the lower-cased tokens
and phrase cues are substring checks on the space-joined tokens — both C-speed — because big
regex alternations cost ~50-100 µs per long query in Python's `re`. The few regexes left are
anchored or start with a literal, and all are compiled once at import. Each signal carries a
label so the routing decision can say *why* it chose a tier.

Positive weights push towards the strong tier (reasoning, analysis, code, proofs, multi-part or
constrained asks); negative weights mark what a small fast model answers well (greetings,
arithmetic, one-term definitions, word translations, short factual lookups).
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Signal:
    label: str       # shown verbatim in RoutingDecision.reason
    weight: float


def _forms(verbs: str) -> frozenset[str]:
    """Inflections of each verb ("explain" -> explains, explained, explaining), so the lists stay
    short and readable; irregular forms and nouns are listed explicitly."""
    out: set[str] = set()
    for v in verbs.split():
        base = v[:-1] if v.endswith("e") else v
        out.update({v, v + "s", base + "ed", base + "ing"})
    return frozenset(out)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _phrases(text: str) -> tuple[str, ...]:
    """"|"-separated; padded with spaces so they only match whole words of the joined text."""
    return tuple(f" {p.strip()} " for p in text.split("|") if p.strip())


# Letters of any script, apostrophes kept ("don't"); hyphens split, so "trade-offs" -> trade offs.
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# CJK text has no spaces, so one "word" would be a whole sentence; count characters instead.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")

# Asking for reasoning rather than retrieval; a few common non-English forms because the gateway
# serves multilingual traffic.
HEAVY_VERBS = _forms(
    "explain compare contrast analyse analyze evaluate assess critique criticise criticize design "
    "prove derive justify discuss debug diagnose troubleshoot refactor optimise optimize implement "
    "investigate reconcile interpret argue weigh architect") | _words(
    "explanation comparison analysis evaluation derivation "
    "explica explique expliquez explicar expliquer analiza analizar analysez analysiere analysieren "
    "analizza compara comparar comparez vergleiche vergleich vergleichen evalúa évaluez bewerte "
    "bewerten demuestra démontrez beweise spiega erkläre erklären erklärt")
# CJK has no word boundaries: these are substring cues (explain, compare, analyse, evaluate,
# design, prove, why, impact, in detail, pros and cons) in Japanese and Chinese.
CJK_CUES = ("説明", "比較", "分析", "評価", "設計", "証明", "なぜ", "影響", "詳しく", "長所と短所",
            "解释", "比较", "评估", "设计", "证明", "为什么", "影响", "详细", "优缺点")
LIGHT_VERBS = _forms("describe summarise summarize outline plan solve suggest estimate predict "
                     "review improve build strengthen decide choose")
# Open questions whose answer is a causal chain or a scenario, not a fact.
OPEN_WORDS = _words("why pourquoi warum perché")
OPEN_PHRASES = _phrases(
    "how does|how did|how would|how should|how could|how can we|how might|what would happen|"
    "what could happen|what might happen|what if|what are the causes|"
    "what are the likely causes|what are the main causes|what are the effects|"
    "what are the consequences|what are the risks|what are the factors|relationship between|"
    "difference between|differences between|por qué")
# "how do X" is open ("how do vaccines work") unless it is a how-to ("how do I", "how do you").
_HOW_DO = re.compile(r"\bhow do (?!i\b|you\b)")
# Explicit constraints on the answer's shape or depth.
CONSTRAINT_WORDS = _words("consider considering balancing versus vs tradeoff tradeoffs twist")
CONSTRAINT_PHRASES = _phrases(
    "step by step|trade off|trade offs|pros and cons|advantages and disadvantages|"
    "for and against|edge case|edge cases|in detail|in depth|walk me through|walk us through|"
    "show your work|show your reasoning|show the steps|taking into account|balance between|"
    "with tests|with unit tests|root cause|root causes|failure mode|failure modes|"
    "best practice|best practices|long term|second order|with an example|in the style of|"
    "from the perspective of|from the point of view of|unreliable narrator|paso a paso|"
    "étape par étape|schritt für schritt|vor und nachteile|ventajas y desventajas|"
    "avantages et inconvénients")
_WORD_LIMIT = re.compile(r"\b\d{3,}[- ]words?\b")
DECISION_PHRASES = _phrases(
    "help me decide|help me choose|is it better to|which is better|which would be better|"
    "decide between")
# Mathematics past arithmetic: calculus, linear algebra, probability, proofs.
MATH_WORDS = _words(
    "integral integrals integrate derivative derivatives differentiate eigenvalue eigenvalues "
    "eigenvector eigenvectors matrix matrices probability probabilities theorem lemma proof prove "
    "converge converges convergence polynomial logarithm logarithms variance binomial distribution "
    "bayesian bayes induction modulo")
MATH_PHRASES = _phrases(
    "differential equation|limit of|standard deviation|expected value|infinitely many")
_MATH_NOTATION = re.compile(r"\b(?:sin|cos|tan|ln|log)\s*\(|\bd[a-z]/d[a-z]\b|[∫∑∂√∞]")
_MATH_CHARS = frozenset("(/∫∑∂√∞")      # cheap pre-check: no regex scan when none is present
# Algebra with variables (x^2, e^x, 3*y, f(x)): symbol manipulation rather than arithmetic.
_SYMBOLIC = re.compile(r"\b[a-z]\s*\^\s*[\w(]|\b\d*[a-z]\s*\*\s*[a-z(]|\b[a-z]\(\s*[a-z0-9]\s*\)")
_SYMBOLIC_CHARS = frozenset("^*(")

_CODE_BLOCK = re.compile(r"```|^(?: {4}|\t)\S.*\n(?: {4}|\t)\S", re.MULTILINE)
_STACK_TRACE = re.compile(
    r"Traceback \(most recent call last\)|^\s+at [\w.$<>]+\(|Exception in thread|"
    r"\b[A-Z]\w*(?:Error|Exception):|\bpanic:|segmentation fault|core dumped", re.MULTILINE)
_INLINE_CODE = re.compile(
    r"\bdef \w+\(|\bfunction\s*\w*\(|=>|\bclass \w+\s*[:({]|\bselect\b[\s\S]+?\bfrom\b|#include|"
    r"\bimport \w+|\bconst \w+ =|\w+\.\w+\([^)]*\)|\bfor \w+ in\b|\breturn\b|[{};]\s*$", re.MULTILINE)
_CODE_CHARS = frozenset("(){};=#")
_ENUMERATION = re.compile(r"(?:^|\s)(?:\d+[.)]|\([a-z0-9]\)|[a-c]\))\s", re.MULTILINE)
_ASPECT_LIST = re.compile(r", [\w-]+(?: [\w-]+)?,? (?:and|or|y|et|und) \w")

# Nouns that name ideas rather than things; they tend to ask for synthesis.
ABSTRACT_NOUNS = _words("""
implication implications consequence consequences tradeoff tradeoffs ethics ethical
mechanism mechanisms architecture strategy strategies relationship impact impacts factor factors cause
causes theme themes evidence hypothesis hypotheses bias biases risk risks philosophy paradox principle
principles theory framework assumption assumptions justification limitation limitations scalability
consistency significance interpretation motivation morality legitimacy sustainability feasibility
causality correlation uncertainty incentive incentives dynamics resilience governance equilibrium
reasoning argument arguments criticism criticisms perspective perspectives ramifications
implicaciones auswirkungen causas ursachen conséquences consecuencias
""")

# Specialist vocabulary across the gateway's domains; a query dense in it usually needs depth.
# Multi-word terms are written with "_" so the list can be split on whitespace.
TECHNICAL_TERMS = frozenset(t.replace("_", " ") for t in """
algorithm algorithms complexity concurrency concurrent parallelism distributed consensus replication
partition partitioning sharding latency throughput idempotent idempotency kubernetes container
microservice microservices monolith event_driven event_sourced jvm memory heap deadlock
race_condition mutex semaphore transaction transactions isolation locking cache caching eviction ttl
asynchronous async compiler runtime recursion polymorphism inheritance schema index indexes database
query optimizer api gateway load_balancer encryption cryptography cryptographic authentication
authorization oauth tls protocol socket thread threads thread_safe pointer generics dependency_injection
machine_learning neural_network gradient regression classifier transformer embedding embeddings
inference overfitting memory_leak isolation_level type_system message_queue garbage_collection
quantum entropy thermodynamics relativity gravitational spacetime electromagnetic photon particle
quark genome gene genes genetic dna rna mrna protein enzyme immune antibody pathogen vaccine vaccines
evolution natural_selection climate ecosystem emissions greenhouse circulation cosmology galaxy
black_hole dark_matter neuron neuroscience catalyst molecule isotope radiation nuclear fusion fission
inflation deflation monetary fiscal bond bonds yield yields equity derivatives portfolio
diversification amortization mortgage liquidity valuation cash_flow arbitrage hedge volatility tax
taxes tax_bracket retirement index_fund central_bank recession interest_rate interest_rates gdp
macroeconomic capital_gains dividend leverage debt annuity pension ira roth
insulin diabetes metabolic anticoagulant antibiotic antibiotics dosage pharmacokinetics cardiovascular
chronic diagnosis prognosis epidemiology clinical contraindication hormone inflammation autoimmune
cholesterol blood_pressure rehabilitation medication medications side_effects
""".split())
_TECH_SINGLE = frozenset(t for t in TECHNICAL_TERMS if " " not in t)
_TECH_PHRASES = tuple(f" {t} " for t in TECHNICAL_TERMS if " " in t)

_GREETING = re.compile(
    r"^\W*(hi|hello|hey|yo|hiya|howdy|good (?:morning|afternoon|evening|night)|thanks?|thank you|"
    r"cheers|bye|goodbye|see you|bonjour|salut|hola|buenos d[ií]as|hallo|guten (?:tag|morgen)|ciao|"
    r"merci|gracias|danke|ok(?:ay)?|cool|great|nice)\b")
_ARITHMETIC = re.compile(
    r"^\W*(?:what\s+is|what's|whats|calculate|compute|how much is|evaluate|solve)?\s*"
    r"[-+*/×÷^().%\d\s,]*\d[-+*/×÷^().%\d\s,]*(?:\s*(?:of|times|plus|minus|divided by|squared)\s*[\d.,]+)*"
    r"\s*[?=!.]*\s*$")
_DEFINITION = re.compile(
    r"^\W*(?:what\s+(?:is|are|'s)\s+(?:a|an|the)?\s*[\w'’.-]+(?:\s+[\w'’.-]+)?|define\s+[\w'’.-]+(?:\s+[\w'’.-]+)?|"
    r"what does [\w'’.-]+ (?:stand for|mean)|meaning of [\w'’.-]+)\s*\??\s*$")
_TRANSLATION = re.compile(
    r"^\W*(translate|how do (?:you|i) say|how to say|what(?:'s| is) the (?:\w+ )?word for|traduce|traduis|übersetze)\b")
_FACTUAL_OPENER = re.compile(
    r"^\W*(who|when|where|which|what|what's|whats|how (?:many|much|long|far|old|tall|big|do i|do you|can i)|"
    r"is|are|do|does|did|can|could|will|was|were|has|have|yes or no|"
    r"cu[aá]l|qui[eé]n|cu[aá]ndo|d[oó]nde|qui|quand|où|quel(?:le)?|wer|wann|wo|wie (?:viel|spät|alt))\b")
_SIMPLE_TASK = re.compile(
    r"^\W*(translate|convert|round|sort|spell|fix the (?:spelling|typo|grammar)|list|name|give me|tell me|"
    r"recommend|suggest a|reset|cancel|write a (?:haiku|limerick|short poem|tweet|slogan|title))\b")


def _count_words(words: list[str], text: str) -> int:
    """Words, with CJK characters counted at ~0.6 of a word each (no spaces to split on)."""
    if text.isascii():
        return len(words)
    cjk = len(_CJK.findall(text))
    if not cjk:
        return len(words)
    return sum(1 for w in words if not _CJK.match(w)) + int(cjk * 0.6 + 0.5)


def _hits(words: list[str], vocab: frozenset[str]) -> list[str]:
    """Distinct words found in `vocab`, in order of appearance (the common miss is one C call)."""
    if vocab.isdisjoint(words):
        return []
    return list(dict.fromkeys(w for w in words if w in vocab))


def _phrase_hits(joined: str, phrases: tuple[str, ...]) -> list[str]:
    return [p.strip() for p in phrases if p in joined]


def _quoted(items: list[str], limit: int = 3) -> str:
    return ", ".join(f"'{x}'" for x in items[:limit])


def extract(query: str) -> tuple[Signal, ...]:
    """All signals that fire on `query`, positive (needs depth) and negative (cheap is enough)."""
    q = query.strip()
    low = q.lower()
    words = _WORD.findall(low)
    joined = f" {' '.join(words)} "
    n = _count_words(words, q)
    out: list[Signal] = []
    add = out.append

    # --- structure: code, traces, several questions or parts ---------------------------------
    has_code = False
    if (":" in q or "\n" in q) and _STACK_TRACE.search(q):
        add(Signal("stack trace", 2.5))
        has_code = True
    if "```" in q or (("\n    " in q or "\n\t" in q) and _CODE_BLOCK.search(q)):
        add(Signal("code block", 2.0))
        has_code = True
    elif not _CODE_CHARS.isdisjoint(q) and len(set(_INLINE_CODE.findall(low))) >= 2:
        add(Signal("inline code", 1.0))
        has_code = True
    questions = q.count("?") + q.count("？")
    if questions >= 2:
        add(Signal(f"{questions} questions", 1.0))
    if len(_ENUMERATION.findall(low)) >= 2:
        add(Signal("enumerated parts", 1.0))
    if n > 10 and _ASPECT_LIST.search(low):
        add(Signal("list of aspects", 0.5))

    # --- what is being asked: reasoning verbs, open questions, constraints ---------------------
    heavy = _hits(words, HEAVY_VERBS)
    if not q.isascii() and _CJK.search(q):
        heavy += [c for c in CJK_CUES if c in q]
    if heavy:
        add(Signal(f"analytical verb {_quoted(heavy)}", min(1.5 + 0.5 * (len(heavy) - 1), 2.5)))
    light = _hits(words, LIGHT_VERBS)
    if light and not heavy:
        add(Signal(f"task verb '{light[0]}'", 1.0))
    open_q = _hits(words, OPEN_WORDS) + _phrase_hits(joined, OPEN_PHRASES)
    if not open_q and " how do " in joined and _HOW_DO.search(joined):
        open_q = ["how do"]
    if open_q:
        add(Signal(f"open question '{open_q[0]}'", 1.0))
    constraints = (_hits(words, CONSTRAINT_WORDS) + _phrase_hits(joined, CONSTRAINT_PHRASES)
                   + ([m.group(0) for m in _WORD_LIMIT.finditer(low)] if "word" in low else []))
    if constraints:
        add(Signal(f"constraint {_quoted(constraints)}", min(1.0 * len(constraints), 2.5)))
    decision = _phrase_hits(joined, DECISION_PHRASES)
    if not decision and (" should i " in joined or " should we " in joined) and " or " in joined:
        decision = ["should … or …"]
    if decision:
        add(Signal("decision between options", 1.5))
    math = _hits(words, MATH_WORDS) + _phrase_hits(joined, MATH_PHRASES)
    if not math and not _MATH_CHARS.isdisjoint(low) and _MATH_NOTATION.search(low):
        math = ["notation"]
    if math:
        add(Signal(f"math beyond arithmetic '{math[0]}'", 1.5))
    if not has_code and not _SYMBOLIC_CHARS.isdisjoint(low) and _SYMBOLIC.search(low):
        add(Signal("symbolic expression", 0.5))

    # --- vocabulary: abstract ideas, specialist terms -----------------------------------------
    abstract = _hits(words, ABSTRACT_NOUNS)
    if abstract:
        add(Signal(f"abstract noun {_quoted(abstract)}", min(1.0 * len(abstract), 2.0)))
    technical = _hits(words, _TECH_SINGLE) + _phrase_hits(joined, _TECH_PHRASES)
    if technical:
        add(Signal(f"{len(technical)} technical term{'s' if len(technical) > 1 else ''}",
                   min(0.5 * len(technical), 2.0)))

    # --- length: long asks carry context and sub-asks -----------------------------------------
    if n >= 60:
        add(Signal(f"long ({n} words)", 2.0))
    elif n >= 30:
        add(Signal(f"long ({n} words)", 1.0))
    elif n >= 18:
        add(Signal(f"medium length ({n} words)", 0.5))

    # --- what a small model handles well; only for short asks without code --------------------
    if not has_code and n <= 14:
        reasoning = bool(heavy or open_q or constraints or decision or math)
        if n <= 8 and not heavy and _GREETING.search(low):
            add(Signal("greeting/thanks", -3.0))
        elif _ARITHMETIC.match(low):
            add(Signal("plain arithmetic", -2.0))
        elif _DEFINITION.match(low):
            add(Signal("definition of one term", -1.5))
        elif _TRANSLATION.search(low):
            add(Signal("translation of a short phrase", -2.0))
        elif not heavy and _SIMPLE_TASK.search(low):
            add(Signal("simple task", -1.0))
        elif not reasoning and _FACTUAL_OPENER.search(low):
            add(Signal("short factual question", -1.0))
        if n <= 4:
            add(Signal(f"very short ({n} word{'s' if n != 1 else ''})", -1.0))
    return tuple(out)
