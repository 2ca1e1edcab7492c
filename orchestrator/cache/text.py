"""What the paraphrase guard reads out of one query: words, stems, numbers, literals, names,
negation, question frame and direction. Pure functions; no model, no I/O."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from orchestrator.cache.lexicon import (GENERIC, IRREGULAR, NAMED, NEGATIONS, NUMBER_WORDS, PHRASAL,
                                        QUESTION_FRAMES, REVERSER_KINDS, REVERSERS, STOP_WORDS, SYNONYM_GROUPS, WEAK_NUMBER_WORDS)

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’]*(?:[.+#_/\-][A-Za-z0-9]+)*[+#]*|->|→|[?!.,;:()\"“”`]")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])\d+(?:,\d{3})*(?:\.\d+)?(?![A-Za-z0-9_])")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|`([^`]+)`|(?<![\w'])'([^']+)'(?![\w])")
_CLITIC = re.compile(r"['’](s|re|ll|ve|d|m)$", re.I)
_SENTENCE_END = {".", "?", "!", ":"}
BOUNDARIES = frozenset({".", "?", "!", ",", ";", ":", "(", ")", "and", "or", "but", "while", "because"})
DIRECTIONAL = frozenset({"to", "into", "than", "->", "→", "towards", "toward"})
WINDOW = 2                  # content words on each side of a direction word


_BRITISH = (("ours", "ors", 6), ("our", "or", 5), ("tres", "ters", 6), ("tre", "ter", 5), ("yres", "ires", 5),
            ("yre", "ire", 4), ("isation", "ization", 8), ("ising", "izing", 7), ("ised", "ized", 6),
            ("ise", "ize", 6), ("ogue", "og", 6))


def stem(word: str) -> str:
    """A light suffix stripper: the same stem for 'sorting', 'sorted' and 'sorts'; never a dictionary.
    British spellings read as American ones ('colour', 'centre', 'tyre', 'organise')."""
    w = word.lower()
    w = IRREGULAR.get(w, w)
    if len(w) <= 3 or not w.isalpha():
        return w
    for british, american, shortest in _BRITISH:
        if w.endswith(british) and len(w) >= shortest:
            w = w[: -len(british)] + american
            break
    if w.endswith(("ies", "ied")) and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("ing") and len(w) > 5:
        w = w[:-3]
    elif w.endswith("ed") and len(w) > 4:
        w = w[:-2]
    elif w.endswith("es") and len(w) > 4 and (w[-3] in "sxz" or w.endswith(("ches", "shes"))):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    elif w.endswith("ly") and len(w) > 5:
        w = w[:-2]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


_STOP_STEMS = frozenset(stem(w) for w in STOP_WORDS) | STOP_WORDS
_GENERIC_STEMS = frozenset(stem(w) for w in GENERIC)
_NAMED_STEMS = frozenset(stem(w) for w in NAMED)
_NEGATION_STEMS = frozenset(NEGATIONS)
_REVERSER_KIND = {stem(w): REVERSER_KINDS.get(w, "reverse") for w in REVERSERS}


def _build_canon() -> tuple[dict[str, str], dict[str, frozenset[int]]]:
    canon: dict[str, str] = {}
    groups: dict[str, set[int]] = {}
    for number, group in enumerate(SYNONYM_GROUPS):
        stems = sorted({stem(w) for w in group})
        head = canon.get(stems[0], stems[0])
        for s in stems:
            canon.setdefault(s, head)
            groups.setdefault(s, set()).add(number)
    return canon, {s: frozenset(g) for s, g in groups.items()}


_CANON, _GROUPS = _build_canon()


def canonical(word_stem: str) -> str:
    """One representative per synonym group ('quickly' and 'fast' read the same)."""
    return _CANON.get(word_stem, word_stem)


def synonyms(x: str, y: str) -> bool:
    """Whether two stems (or canonical stems) share a synonym group: a word may sit in several
    ('find' is both 'locate' and 'calculate'), which one representative cannot say."""
    gx, gy = _GROUPS.get(x), _GROUPS.get(y)
    return x == y or bool(gx and gy and gx & gy)


def is_generic(word_stem: str) -> bool:
    return word_stem in _GENERIC_STEMS or word_stem in _STOP_STEMS


@dataclass(frozen=True)
class Features:
    text: str
    words: tuple[str, ...]            # lowercased word tokens (clitics dropped, apostrophes removed)
    stems: tuple[str, ...]            # stems of `words`, same order (punctuation kept as itself)
    content: tuple[str, ...]          # stems of content words, in order
    numbers: frozenset[float]         # written numbers: digits, 'three', 'second', ...
    weak_numbers: frozenset[float]    # 'one', 'a', 'an': a count of one that may go unsaid
    quoted: frozenset[str]
    entities: frozenset[str]          # stems of named things: proper nouns, acronyms, code names
    negated: bool
    reversers: frozenset[str]         # kinds of reversing word: 'reverse' (backwards, inverse), 'except'
    frames: frozenset[str]            # question frames: 'duration', 'reason', 'manner', ...
    sources: frozenset[str]           # canonical stems on the from-side of a direction word
    targets: frozenset[str]           # ... and on the to-side
    surface: dict[str, str] = field(default_factory=dict, compare=False)   # stem/canonical -> word as written

    def say(self, stem_or_canon: str) -> str:
        return self.surface.get(stem_or_canon, stem_or_canon)


_PHRASAL = re.compile(r"\b(" + "|".join(re.escape(p) for p, _ in PHRASAL) + r")\b", re.I)
_PHRASAL_WORD = {p: w for p, w in PHRASAL}


def _tokens(text: str) -> list[str]:
    out = []
    text = _PHRASAL.sub(lambda m: _PHRASAL_WORD[m.group(1).lower()], text)
    for tok in _TOKEN.findall(text):
        if tok[0].isalnum():
            tok = _CLITIC.sub("", tok)
            tok = tok.replace("n’t", "nt").replace("n't", "nt").replace("'", "").replace("’", "")
        out.append(tok)
    return out


def _is_entity_shape(tok: str, sentence_start: bool) -> bool:
    if not tok[0].isalnum() or tok.isdigit():
        return False
    if any(c in tok for c in ".+#_/") or (any(c.isdigit() for c in tok) and any(c.isalpha() for c in tok)):
        return True
    if len(tok) >= 2 and tok.isupper() and tok.isalpha():
        return True
    if any(c.isupper() for c in tok[1:]) and tok[0].islower():          # camelCase
        return True
    return tok[0].isupper() and not sentence_start and tok != "I"


def _numbers(text: str, words: list[str]) -> tuple[frozenset[float], frozenset[float]]:
    strong = {float(m.replace(",", "")) for m in _NUMBER.findall(text)}
    strong |= {float(NUMBER_WORDS[w]) for w in words if w in NUMBER_WORDS}
    weak = {float(WEAK_NUMBER_WORDS[w]) for w in words if w in WEAK_NUMBER_WORDS}
    return frozenset(strong), frozenset(weak)


def _frames(words: list[str]) -> frozenset[str]:
    """The frame of the question's own wh-phrase: the first one. A later one sits in a clause
    ('... noise when I brake', '... count how many words') and does not change what is asked."""
    for i in range(len(words)):
        for phrase, frame in QUESTION_FRAMES:
            parts = phrase.split()
            if words[i:i + len(parts)] == parts:
                return frozenset({frame})
    return frozenset()


def _window(stems: list[str], content: list[bool], start: int, step: int) -> set[str]:
    got, i = set(), start
    while 0 <= i < len(stems) and len(got) < WINDOW:
        s = stems[i]
        if s in BOUNDARIES or s in DIRECTIONAL or s == "from":
            break
        if content[i]:
            got.add(canonical(s))
        i += step
    return got


def _direction(stems: list[str], content: list[bool]) -> tuple[frozenset[str], frozenset[str]]:
    sources, targets = set(), set()
    for i, s in enumerate(stems):
        if s == "from":
            sources |= _window(stems, content, i + 1, 1)
        elif s in DIRECTIONAL and i > 0 and content[i - 1]:   # 'how to', 'want to': not a direction
            clause_has_from = False
            for j in range(i - 1, -1, -1):
                if stems[j] in BOUNDARIES:
                    break
                if stems[j] == "from":
                    clause_has_from = True
                    break
            if not clause_has_from:
                sources |= _window(stems, content, i - 1, -1)
            targets |= _window(stems, content, i + 1, 1)
    both = sources & targets
    return frozenset(sources - both), frozenset(targets - both)


@lru_cache(maxsize=4096)
def features(text: str) -> Features:
    raw = _tokens(text)
    words = [t.lower() for t in raw]
    # an acronym is a name, not a plural: 'HTTPS' is not 'HTTP'
    stems = [w if not w[0].isalnum() or (len(t) >= 2 and t.isupper()) else stem(w) for t, w in zip(raw, words)]
    is_content = [w[0].isalpha() and s not in _STOP_STEMS and w not in STOP_WORDS and w not in NEGATIONS
                  and w not in NUMBER_WORDS for w, s in zip(words, stems)]
    entities, start = set(), True
    for tok, w, s in zip(raw, words, stems):
        if tok[0].isalnum():
            if s not in _STOP_STEMS and (s in _NAMED_STEMS or w in NAMED or _is_entity_shape(tok, start)):
                entities.add(s)
            start = False
        else:
            start = start or tok in _SENTENCE_END
    quoted = frozenset(" ".join(next(g for g in m if g).lower().split()) for m in _QUOTED.findall(text))
    strong, weak = _numbers(text, words)
    sources, targets = _direction(stems, is_content)
    surface: dict[str, str] = {}
    for w, s in zip(words, stems):
        surface.setdefault(s, w)
        surface.setdefault(canonical(s), w)
    return Features(
        text=text, words=tuple(words), stems=tuple(stems),
        content=tuple(s for s, c in zip(stems, is_content) if c),
        numbers=strong, weak_numbers=weak, quoted=quoted, entities=frozenset(entities),
        negated=any(w in _NEGATION_STEMS for w in words),
        reversers=frozenset(_REVERSER_KIND[s] for s in stems if s in _REVERSER_KIND),
        frames=_frames(words), sources=sources, targets=targets, surface=surface,
    )


_LEAD = re.compile(
    r"^\s*(?:(?:so|ok|okay|hey|hi|please),?\s+)?(?:"
    r"what(?:'s|’s| is| are)? the (?:best|easiest|simplest|quickest|fastest|right|proper|correct|recommended"
    r"|most effective|ideal) (?:way|ways|method|approach) (?:to|for|of)"
    r"|how (?:do|can|should|would|could|might) (?:i|you|we|one|someone)"
    r"|what are (?:the )?(?:steps|ways) (?:for|to)"
    r"|is there (?:a|any) way to"
    r"|what (?:can|should|do) (?:i|you|we) do to"
    r"|(?:any )?tips (?:for|on|to)"
    r"|how to|i want to|i need to|help me)\s+", re.I)


def embedding_text(text: str) -> str:
    """The text the embedder sees: a leading 'What's the best way to' / 'How can I' / 'What are the
    steps for' reads 'how to', so a paraphrase is not pushed away by its choice of opening (cosine of
    'How do I tie a tie?' and 'What are the steps for tying a necktie?' 0.68 -> 0.70). Both sides of
    a near-miss usually open alike, so they gain nothing. The guard reads the original text."""
    m = _LEAD.match(text)
    return "how to " + text[m.end():] if m else text

