"""Is a cached question really the question being asked? A pure, explainable lexical check.

Cosine similarity of sentence embeddings cannot tell a paraphrase from a near-miss ("convert
string to int" vs "convert int to string" scores 0.99), so a candidate above the threshold must
also pass these rules, in order; the first that fails refuses, and says why:

  quoted literals equal · numbers equal · same negation · no one-sided reverser ('reverse',
  'except') · no opposite pair (install/uninstall, ascending/descending, un-/de-/dis- forms) ·
  same direction ('X to Y' vs 'Y to X', 'from X to Y', 'X than Y') · same named things (proper
  nouns, acronyms, code names, languages, places, units; an initialism matches its words spelled
  out, 'mph' / 'miles per hour'; a unit with no quantity on either side, 'set foot on', is no
  name) · names not in swapped places (the Python equivalent of JavaScript's map) · same question
  frame (how long vs how) · no key word swapped in an otherwise unchanged question (boil vs fry an
  egg: at most MAX_SWAP_TOKENS words change once articles and auxiliaries are evened out) unless
  the two are synonyms or forms of one word.

Numbers are read as values: '2.5', 'two and a half', 'ten thousand' / '10,000', 'World War II' /
'Second World War'.

Model-based word equivalence was measured and not adopted (December 2026): MiniLM cosine of the
swapped words does not separate synonyms from near-miss swaps (signs/symptoms 0.58, veggie/vegetable
0.74 vs milk/water 0.58, Osaka/Tokyo 0.81, leap/non-leap 0.85), and whole-sentence cosine of a
minimal-pair near-miss reaches 0.98 (keep/discard the changes). What separates them on every
tuning set is structure: a near-miss swaps one or two words in an otherwise unchanged question, a
paraphrase rewords around the swap.

Only what one query says and the other contradicts or swaps refuses: a paraphrase that adds a
generic word ('What is Python programming?') passes.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

from orchestrator.cache.lexicon import NEGATING_PREFIXES, NUMBER_WORDS, OPPOSITES, STOP_WORDS, UNITS, WEAK_NUMBER_WORDS
from orchestrator.cache.text import Features, canonical, features, is_generic, stem, synonyms

MAX_SWAP = 2        # a swap of at most this many key words on each side reads as a near-miss

UNITS_STEMS = frozenset(stem(w) for w in UNITS) | UNITS
_OPPOSITE_STEMS: tuple[tuple[str, str], ...] = tuple((stem(a), stem(b)) for a, b in OPPOSITES)


@dataclass(frozen=True)
class GuardDecision:
    same: bool
    rule: str           # 'same', 'quoted', 'number', 'negation', 'reverser', 'opposite', 'direction',
                        # 'entity', 'question', 'key_word'
    reason: str

    def __bool__(self) -> bool:
        return self.same


def _refuse(rule: str, reason: str) -> GuardDecision:
    return GuardDecision(False, rule, reason)


def _fmt(words, f: Features | None = None) -> str:
    return ", ".join(sorted(f.say(w) if f is not None else str(w) for w in words)) or "nothing"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _quoted(a: Features, b: Features) -> GuardDecision | None:
    if a.quoted != b.quoted:
        return _refuse("quoted", f"quoted literals differ: {_fmt(a.quoted)} vs {_fmt(b.quoted)}")
    return None


def _numbers(a: Features, b: Features) -> GuardDecision | None:
    only_a = a.numbers - (b.numbers | b.weak_numbers)
    only_b = b.numbers - (a.numbers | a.weak_numbers)
    if only_a or only_b:
        return _refuse("number", f"numbers differ: {_fmt(map(_num, a.numbers))} vs {_fmt(map(_num, b.numbers))}")
    return None


def _negation(a: Features, b: Features) -> GuardDecision | None:
    if a.negated != b.negated:
        which = a.text if a.negated else b.text
        return _refuse("negation", f"only one is negated ({which!r})")
    if a.reversers != b.reversers:
        return _refuse("reverser", f"reversing words differ: {_fmt(a.reversers, a)} vs {_fmt(b.reversers, b)}")
    return None


def _opposites(a: Features, b: Features) -> GuardDecision | None:
    ca, cb = Counter(a.stems), Counter(b.stems)
    for x, y in _OPPOSITE_STEMS:
        # one query says x more often and the other y more often ('turn on ... on' vs 'turn off ... on')
        for first, second in ((x, y), (y, x)):
            if ca[first] > cb[first] and cb[second] > ca[second]:
                return _refuse("opposite", f"opposite words: {a.say(first)!r} vs {b.say(second)!r}")
    only_a, only_b = set(ca) - set(cb), set(cb) - set(ca)
    for x in sorted(only_a):
        for y in sorted(only_b):
            for longer, base, base_side in ((x, y, only_b), (y, x, only_a)):
                prefix = next((p for p in NEGATING_PREFIXES if longer == p + base), None)
                if prefix is None or len(base) < 4 or not base.isalpha():
                    continue
                # 'unclog a sink' vs 'unblock a clogged sink': the side with the base word has a
                # negated word of its own, so the polarity is the same on both sides
                if any(w != base and w.startswith(prefix) and _negated_form(w, prefix) for w in base_side):
                    continue
                return _refuse("opposite", f"opposite words: {a.say(x)!r} vs {b.say(y)!r} (negating prefix)")
    return None


def _negated_form(word: str, prefix: str) -> bool:
    rest = word[len(prefix):]
    return len(rest) >= 4 and rest.isalpha()


def _direction(a: Features, b: Features) -> GuardDecision | None:
    forward, backward = a.sources & b.targets, a.targets & b.sources
    if forward and backward:
        return _refuse("direction", f"direction reversed: {_fmt(a.sources, a)} -> {_fmt(a.targets, a)} "
                                    f"vs {_fmt(b.sources, b)} -> {_fmt(b.targets, b)}")
    return None


_NAME_SUFFIXES = ("ic", "ian", "an", "ish", "ese")      # 'Pythonic', 'Canadian': the name as an adjective


def _same_name(x: str, y: str) -> bool:
    short, long_ = sorted((x, y), key=len)
    return synonyms(x, y) or (len(short) >= 4 and any(long_ == short + end for end in _NAME_SUFFIXES))


def _initialism_of(name: str, f: Features) -> bool:
    """'mph' is 'miles per hour', 'faq' 'frequently asked questions': a short name spelled out."""
    if not (2 <= len(name) <= 5 and name.isalpha()):
        return False
    words = [w for w in f.words if w[:1].isalpha()]
    n = len(name)
    return any(words[i] not in STOP_WORDS and "".join(w[0] for w in words[i:i + n]) == name
               for i in range(len(words) - n + 1))


def _spelled_out_by(f: Features, other: Features) -> set[str]:
    """Stems of `f`'s words that spell out a short word only `other` has ('miles per hour' for 'mph')."""
    words = [(w, s) for w, s in zip(f.words, f.stems) if w[:1].isalpha()]
    out = set()
    for name in set(other.words) - set(f.words):
        n = len(name)
        if not (2 <= n <= 5 and name.isalpha()) or name in STOP_WORDS:
            continue
        for i in range(len(words) - n + 1):
            if words[i][0] not in STOP_WORDS and "".join(w[0] for w, _ in words[i:i + n]) == name:
                out |= {s for _, s in words[i:i + n]}
    return out


_MEASURING = frozenset(NUMBER_WORDS) | frozenset(WEAK_NUMBER_WORDS) | {"per", "many", "much", "every", "each"}


def _loose_units(f: Features) -> set[str]:
    """Units in `f` with no count or measure word right before them ('set foot', not 'a cup')."""
    out = set()
    for i, s in enumerate(f.stems):
        if s in UNITS_STEMS and not (i and (f.words[i - 1] in _MEASURING or f.words[i - 1][:1].isdigit())):
            out.add(s)
    return out


def _entities(a: Features, b: Features) -> GuardDecision | None:
    stems_a, stems_b = set(a.stems), set(b.stems)
    only_a = {e for e in a.entities - stems_b if not any(_same_name(e, s) for s in stems_b)}
    only_b = {e for e in b.entities - stems_a if not any(_same_name(e, s) for s in stems_a)}
    only_a = {e for e in only_a if not _initialism_of(e, b)} - _spelled_out_by(a, b)
    only_b = {e for e in only_b if not _initialism_of(e, a)} - _spelled_out_by(b, a)
    # a unit named on one side only, with no quantity anywhere, measures nothing ('set foot on');
    # 'a cup of rice' or 'per hour' measures
    if not (a.numbers or b.numbers) and not (only_a and only_b):
        only_a, only_b = only_a - _loose_units(a), only_b - _loose_units(b)
    if only_a or only_b:
        return _refuse("entity", f"named things differ: {_fmt(only_a, a)} vs {_fmt(only_b, b)}")
    return None


def _roles(a: Features, b: Features) -> GuardDecision | None:
    """The same names in the same words but in swapped places ('the Python equivalent of
    JavaScript's map' vs 'the JavaScript equivalent of Python's map') ask the reverse question."""
    names_a = [s for s in a.stems if s in a.entities]
    names_b = [s for s in b.stems if s in b.entities]
    if len(set(names_a)) < 2 or sorted(names_a) != sorted(names_b) or names_a == names_b:
        return None
    if _skeleton(a, mask=a.entities) == _skeleton(b, mask=b.entities):
        return _refuse("direction", f"names swap places: {_fmt(names_a, a)} vs {_fmt(names_b, b)}")
    return None


def _question(a: Features, b: Features) -> GuardDecision | None:
    if a.frames and b.frames and a.frames != b.frames and (a.frames ^ b.frames) - {"manner"}:
        return _refuse("question", f"asks a different thing: {_fmt(a.frames)} vs {_fmt(b.frames)}")
    return None


def _key(stems: tuple[str, ...]) -> set[str]:
    return {s for s in stems if not is_generic(s)}


def _related(x: str, y: str) -> bool:
    """Same word in another form the stemmer missed: 'dehydrat'/'dehydration', 'stov'/'stovetop'."""
    short, long_ = sorted((x, y), key=len)
    return len(short) >= 4 and long_.startswith(short)


def _content_edits(a: Features, b: Features) -> int:
    """How many separate places the two queries differ in, counting only edits that touch a
    content word ('do I' -> 'can I' is no edit; 'boil' -> 'fry' is one)."""
    ops = SequenceMatcher(None, a.stems, b.stems, autojunk=False).get_opcodes()
    content_a, content_b = set(a.content), set(b.content)
    return sum(1 for tag, i1, i2, j1, j2 in ops if tag != "equal"
               and (any(s in content_a for s in a.stems[i1:i2]) or any(s in content_b for s in b.stems[j1:j2])))


_AUX = frozenset("is are was were be been am do does did can could should would will shall may might must".split())
_WH = {"which": "what"}
_SKIP = frozenset({"a", "an", "the"})
MAX_SWAP_TOKENS = 2     # words a swap may change, all places together ('runny' -> 'fully set')


def _skeleton(f: Features, mask: frozenset[str] = frozenset()) -> list[str]:
    """The query's words with what does not change its meaning evened out: articles and punctuation
    dropped, auxiliaries read as one ('was'/'were', 'did'/'was'), 'which' as 'what'."""
    out = []
    for s in f.stems:
        if not s[0].isalnum() or s in _SKIP:
            continue
        out.append("<name>" if s in mask else "<aux>" if s in _AUX else _WH.get(s, s))
    return out


def _swap_size(a: Features, b: Features) -> int:
    """How many words change between the two skeletons, all places together: a near-miss changes
    one or two ('boil' -> 'fry'); a paraphrase rewords more ('population of' -> 'people live in')."""
    sa, sb = _skeleton(a), _skeleton(b)
    ops = SequenceMatcher(None, sa, sb, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def _alike(x: str, y: str) -> bool:
    return x == y or canonical(x) == canonical(y) or synonyms(x, y) or _related(x, y)


def _key_words(a: Features, b: Features) -> GuardDecision | None:
    ka, kb = _key(a.content), _key(b.content)
    # a word on both sides explains nothing else: 'sort ... in reverse order' does not make 'order'
    # stand for 'sort' when the other side says 'order' too; a word said more often on one side
    # counts as that side's ('annual interest compounded annually' vs '... compounded monthly')
    ca, cb = Counter(w for w in a.content if w in ka), Counter(w for w in b.content if w in kb)
    rest_a, rest_b = set(ca - cb), set(cb - ca)
    only_a = {x for x in rest_a if not any(_alike(x, y) for y in rest_b)}
    only_b = {y for y in rest_b if not any(_alike(x, y) for x in rest_a)}
    # something must be shared for a swap to be a swap: a key word, or the numbers or names
    # ('7 times 8' vs '7 plus 8')
    shared = (ka - only_a) or (a.numbers and a.numbers == b.numbers) or (a.entities and a.entities == b.entities)
    if not (only_a and only_b and shared) or len(only_a) > MAX_SWAP or len(only_b) > MAX_SWAP:
        return None
    # A swap in an otherwise unchanged question is a different question ('boil' vs 'fry' an egg);
    # the same swap amid a rewording is usually the paraphrase's own choice of words.
    if _content_edits(a, b) <= 1 and _swap_size(a, b) <= MAX_SWAP_TOKENS:
        return _refuse("key_word", f"key words swapped: {_fmt(only_a, a)} vs {_fmt(only_b, b)}")
    return None


RULES = (_quoted, _numbers, _negation, _opposites, _direction, _entities, _roles, _question, _key_words)


def same_question(query: str, candidate: str) -> GuardDecision:
    """Whether `candidate` (a cached question) asks what `query` asks, with the reason."""
    a, b = features(query), features(candidate)
    if a.stems == b.stems:
        return GuardDecision(True, "same", "same words")
    for rule in RULES:
        decision = rule(a, b)
        if decision is not None:
            return decision
    return GuardDecision(True, "same", "no contradiction: same numbers, names, literals, polarity and direction")


class ParaphraseGuard:
    """Callable wrapper so the cache can take a guard object (or `None` for cosine alone)."""

    def __call__(self, query: str, candidate: str) -> GuardDecision:
        return same_question(query, candidate)
