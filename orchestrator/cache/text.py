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
    if not tok[0].isalnum() or tok.isdigit() or _NUMBER.fullmatch(tok):      # '2.5' is a number, not a name
        return False
    if any(c in tok for c in ".+#_/") or (any(c.isdigit() for c in tok) and any(c.isalpha() for c in tok)):
        return True
    if len(tok) >= 2 and tok.isupper() and tok.isalpha():
        return True
    if any(c.isupper() for c in tok[1:]) and tok[0].islower():          # camelCase
        return True
    return tok[0].isupper() and not sentence_start and tok != "I"


_UNITS = {w: NUMBER_WORDS[w] for w in ("zero two three four five six seven eight nine ten eleven twelve thirteen "
                                        "fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty "
                                        "forty fifty sixty seventy eighty ninety").split()}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1e6, "billion": 1e9, "dozen": 12}
_ROMAN = re.compile(r"^(?:X{0,3})(?:IX|IV|V?I{0,3})$")
_ROMAN_VALUE = {"I": 1, "V": 5, "X": 10}
_DIGIT_SCALE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s+(thousand|million|billion)\b", re.I)


def _roman(token: str) -> int:
    values = [_ROMAN_VALUE[c] for c in token]
    return sum(-v if i + 1 < len(values) and values[i + 1] > v else v for i, v in enumerate(values))


def _is_roman_numeral(raw: list[str], i: int) -> bool:
    """'World War II', 'Henry VIII', 'World War I': an upper-case numeral after a capitalised name
    word. A lone 'I' counts only there, and never right after the sentence's first word ('Can I')."""
    tok = raw[i]
    if not tok or not tok.isupper() or not _ROMAN.match(tok) or i == 0:
        return False
    prev = raw[i - 1]
    if not (prev[:1].isupper() and prev.isalpha() and not prev.isupper()):
        return False
    # a lone 'I' only ends a name of two capitalised words ('World War I'); 'Python I have' is a pronoun
    return tok != "I" or (i >= 2 and raw[i - 2][:1].isupper() and raw[i - 2].isalpha())


def _spelled_numbers(words: list[str]) -> tuple[set[float], set[int]]:
    """Values of spelled-out numbers read as one: 'ten thousand' 10000, 'twenty-five' 25, 'two and a
    half' 2.5, 'a dozen' 12, 'twelve-pound' 12; with the positions of the words that made them."""
    parts: list[tuple[int, str]] = [(i, p) for i, w in enumerate(words) for p in w.split("-") if p]
    values, used = set(), set()
    k = 0
    while k < len(parts):
        i, p = parts[k]
        starts = p in _UNITS or (p in ("a", "an", "one") and k + 1 < len(parts) and parts[k + 1][1] in _SCALES)
        if not starts:
            k += 1
            continue
        total, current, idx = 0.0, 0.0, []
        while k < len(parts):
            i, p = parts[k]
            nxt = [q for _, q in parts[k + 1:k + 4]]
            if p in _UNITS:
                current += _UNITS[p]
            elif p in ("a", "an", "one") and nxt[:1] and nxt[0] in _SCALES:
                current += 1
            elif p in _SCALES:
                scale = _SCALES[p]
                if scale >= 1000:
                    total += (current or 1) * scale
                    current = 0.0
                else:
                    current = (current or 1) * scale
            elif p == "and" and (nxt[:2] == ["a", "half"] or nxt[:1] == ["half"] or (nxt[:1] and nxt[0] in _UNITS)):
                pass
            elif p in ("a", "an") and nxt[:1] == ["half"] and idx:
                pass
            elif p == "half" and idx and words[parts[k - 1][0]] in ("a", "and"):
                current += 0.5
            else:
                break
            idx.append(i)
            k += 1
        values.add(total + current)
        used.update(idx)
    return values, used


def _numbers(text: str, words: list[str], raw: list[str] | None = None) -> tuple[frozenset[float], frozenset[float]]:
    text = _DIGIT_SCALE.sub(lambda m: repr(float(m.group(1)) * _SCALES[m.group(2).lower()]), text)
    strong = {float(m.replace(",", "")) for m in _NUMBER.findall(text)}
    spelled, used = _spelled_numbers(words)
    strong |= spelled
    strong |= {float(NUMBER_WORDS[w]) for i, w in enumerate(words)
               if w in NUMBER_WORDS and i not in used and not (w in _SCALES and i and words[i - 1][:1].isdigit())}
    if raw is not None:
        strong |= {float(_roman(t)) for i, t in enumerate(raw) if _is_roman_numeral(raw, i)}
    weak = {float(WEAK_NUMBER_WORDS[w]) for i, w in enumerate(words) if w in WEAK_NUMBER_WORDS and i not in used}
    return frozenset(strong), frozenset(weak)


def _frames(words: list[str]) -> frozenset[str]:
    """The frame of the question's own wh-phrase: the first one. A later one sits in a clause
    ('... noise when I brake', '... count how many words') and does not change what is asked."""
    for i in range(len(words)):
        # 'when applying', 'while baking': a clause about circumstances, not the question's frame
        if words[i] in ("when", "while") and i + 1 < len(words) and words[i + 1].endswith("ing"):
            continue
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


_DEGREES = re.compile(r"°\s*([CFK])\b")
_DEGREE_NAMES = {"C": "celsius", "F": "fahrenheit", "K": "kelvin"}
_CODE_PAREN = re.compile(r"(?<=[A-Za-z0-9])\(([A-Za-z0-9]{1,3})\)")
_NUMBER_HYPHEN = re.compile(r"\b(" + "|".join(w for w in NUMBER_WORDS if w.isalpha()) + r")-(?=[A-Za-z])", re.I)


def prepare(text: str) -> str:
    """Spellings that say one thing read alike: '°C' is 'celsius', '401(k)' is '401k', 'twelve-pound'
    is 'twelve pound' and 'twenty-five' 'twenty five' (a number word is not glued to the next)."""
    text = _DEGREES.sub(lambda m: " " + _DEGREE_NAMES[m.group(1)], text)
    text = _CODE_PAREN.sub(r"\1", text)
    return _NUMBER_HYPHEN.sub(r"\1 ", text)


def _negating(words: list[str], i: int) -> bool:
    """'nothing' after a preposition names an amount ('from nothing', 'for nothing'); it does not
    deny the question."""
    return words[i] in _NEGATION_STEMS and not (words[i] == "nothing" and i and words[i - 1] in ("from", "for", "of"))


@lru_cache(maxsize=4096)
def features(text: str) -> Features:
    text = prepare(text)
    raw = _tokens(text)
    words = [t.lower() for t in raw]
    # an acronym is a name, not a plural: 'HTTPS' is not 'HTTP'
    stems = [w if not w[0].isalnum() or (len(t) >= 2 and t.isupper()) else stem(w) for t, w in zip(raw, words)]
    is_content = [w[0].isalpha() and s not in _STOP_STEMS and w not in STOP_WORDS and w not in NEGATIONS
                  and w not in NUMBER_WORDS for w, s in zip(words, stems)]
    entities, start = set(), True
    for i, (tok, w, s) in enumerate(zip(raw, words, stems)):
        if tok[0].isalnum():
            if w in NUMBER_WORDS or _is_roman_numeral(raw, i):       # 'Second World War', 'World War II'
                start = False
                continue
            if s not in _STOP_STEMS and (s in _NAMED_STEMS or w in NAMED or _is_entity_shape(tok, start)):
                entities.add(s)
            start = False
        else:
            start = start or tok in _SENTENCE_END
    quoted = frozenset(" ".join(next(g for g in m if g).lower().split()) for m in _QUOTED.findall(text))
    strong, weak = _numbers(text, words, raw)
    sources, targets = _direction(stems, is_content)
    surface: dict[str, str] = {}
    for w, s in zip(words, stems):
        surface.setdefault(s, w)
        surface.setdefault(canonical(s), w)
    return Features(
        text=text, words=tuple(words), stems=tuple(stems),
        content=tuple(s for s, c in zip(stems, is_content) if c),
        numbers=strong, weak_numbers=weak, quoted=quoted, entities=frozenset(entities),
        negated=any(_negating(words, i) for i in range(len(words))),
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

