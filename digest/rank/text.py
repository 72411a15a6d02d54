"""Text normalisation for ranking: words → stems, phrases and acronyms.

One `Analyzer` turns a title, an abstract or a topic into *runs*: lists of content stems
in reading order, split at sentence punctuation so that a phrase never spans two
clauses. Normalisation the ranking relies on:

- case folding and Unicode compatibility forms (`ﬁ` → `fi`, full-width digits …);
- English Snowball stemming (`splatting`/`splats` → `splat`), cached per word;
- plural acronyms lose their `s` (`LLMs` → `llm`, `GANs` → `gan`);
- hyphenated compounds give their parts (`self-supervised` → `self supervis`) and, as an
  extra token, the joined form, so `pre-training` also matches `pretraining`;
- acronyms defined in the text itself (`large language models (LLMs)`) are learnt by
  `find_acronyms`; the index then adds the acronym wherever the long form appears.

Non-Latin scripts pass through as lower-cased words (no stemmer applies to them).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator

import snowballstemmer  # type: ignore[import-untyped]

_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his
    how i if in into is it its itself just me more most my myself no nor not now of off
    on once only or other our ours ourselves out over own same she should so some such
    than that the their theirs them themselves then there these they this those through
    to too under until up very via was we were what when where which while who whom why
    will with would you your yours yourself yourselves s t d ll m o re ve y e g eg ie et
    al etc
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[^\W_]+(?:[-‐‑][^\W_]+)*")
_BREAK = re.compile(r"[.;:!?()\[\]{}\"“”]|,\s")
_HYPHEN = re.compile(r"[-‐‑]")
_TOKEN = re.compile(f"({_WORD.pattern})|{_BREAK.pattern}")  # a word, or a break between words
_PLURAL_ACRONYM = re.compile(r"^([A-Z][A-Za-z0-9]*[A-Z0-9])s$")
_ACRONYM_DEF = re.compile(r"\(\s*([A-Za-z0-9][A-Za-z0-9-]{0,9}?)\s*\)")
_LINK_WORDS = frozenset({"of", "for", "and", "the", "in", "on", "to", "with", "a", "an"})


class Analyzer:
    """Turns text into runs of stems. Keeps a per-word cache, so reuse one instance."""

    def __init__(self) -> None:
        self._stemmer = snowballstemmer.stemmer("english")
        self._cache: dict[str, str] = {}

    def stem(self, word: str) -> str:
        """The stem of one surface word (`LLMs` → `llm`, `Splatting` → `splat`)."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        plural = _PLURAL_ACRONYM.match(word)
        lowered = (plural[1] if plural else word).lower()
        if plural or not lowered.isascii():
            result = lowered
        elif lowered != word:
            result = self.stem(lowered)  # all case variants of a word share one stemming
        else:
            result = self._stemmer.stemWord(lowered)
        if len(self._cache) < 500_000:
            self._cache[word] = result
        return result

    def runs(
        self, text: str, *, keep: frozenset[str] = frozenset()
    ) -> tuple[list[list[str]], list[str]]:
        """Content stems of `text` in reading order, split into runs at punctuation.

        Returns `(runs, joined)`: `joined` holds the joined forms of hyphenated compounds.
        Words in `keep` are not dropped as stop words (a topic may mean "IT security").
        """
        text = unicodedata.normalize("NFKC", text)
        runs: list[list[str]] = [[]]
        joined: list[str] = []
        broken = False  # whether sentence punctuation came since the last word
        cache, stem = self._cache, self.stem
        for match in _TOKEN.finditer(text):
            word = match[1]
            if word is None:
                broken = True
                continue
            if broken and runs[-1]:
                runs.append([])
            broken = False
            parts = _HYPHEN.split(word) if _HYPHEN.search(word) else [word]
            if len(parts) > 1:
                joined.append(stem("".join(parts)))
            run = runs[-1]
            for part in parts:
                lowered = part.lower()
                if lowered in STOPWORDS and lowered not in keep:
                    continue
                run.append(cache.get(part) or stem(part))
        return [run for run in runs if run], joined

    def stems(self, text: str) -> list[str]:
        """All content stems of `text`, flattened (for exclusion and author checks)."""
        runs, joined = self.runs(text)
        return [stem for run in runs for stem in run] + joined


def bigrams(run: list[str]) -> Iterator[str]:
    """Adjacent stem pairs of a run, order-free ("use of tools" ~ "tool use")."""
    for first, second in itertools.pairwise(run):
        if first != second:
            yield f"{first} {second}" if first < second else f"{second} {first}"


def find_acronyms(text: str, analyzer: Analyzer) -> Iterator[tuple[tuple[str, ...], str]]:
    """Acronyms defined in `text`: `(long-form stems, acronym stem)` pairs.

    A definition is words followed by a parenthesised acronym whose letters are prefixes of
    those words in order: "Large Language Models (LLMs)", "3D Gaussian Splatting (3DGS)",
    "Mixture-of-Experts (MoE)".
    """
    text = unicodedata.normalize("NFKC", text)
    for match in _ACRONYM_DEF.finditer(text):
        acronym = match[1]
        if sum(c.isupper() for c in acronym) < 2 or acronym.isdigit():
            continue
        core = re.sub(r"s$", "", acronym) if acronym[-2:-1].isupper() else acronym
        words = [
            w
            for w in re.split(r"[\s\-‐‑/]+", text[max(0, match.start() - 120) : match.start()])
            if w
        ]
        long_form = _match_long_form(core.lower().replace("-", ""), words[-12:])
        if long_form is None:
            continue
        stems = tuple(analyzer.stem(w) for w in long_form if w.lower() not in STOPWORDS)
        if len(stems) >= 2:
            yield stems, analyzer.stem(acronym)


def _match_long_form(letters: str, words: list[str]) -> list[str] | None:
    """The shortest tail of `words` whose word prefixes spell `letters`, else None."""
    clean = [re.sub(r"[^\w]", "", w) for w in words]
    for size in range(2, min(len(clean), len(letters) + 3) + 1):
        tail = clean[-size:]
        if tail[0].lower() in _LINK_WORDS or not tail[0]:
            continue
        if _spells(letters, [w.lower() for w in tail]):
            return tail
    return None


def _spells(letters: str, words: list[str]) -> bool:
    """Whether each word contributes a non-empty prefix, in order, together making `letters`.

    Linking words ("of", "and") may contribute nothing.
    """
    if not words:
        return not letters
    word, rest = words[0], words[1:]
    if word in _LINK_WORDS and _spells(letters, rest):
        return True
    return any(
        letters.startswith(word[:n]) and _spells(letters[n:], rest)
        for n in range(1, min(len(word), len(letters)) + 1)
    )


def normalise_name(name: str) -> tuple[str, ...]:
    """An author name as comparable parts: accents and case dropped, initials kept."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return tuple(p for p in re.split(r"[^a-z0-9]+", ascii_only) if p)


def names_match(followed: tuple[str, ...], author: tuple[str, ...]) -> bool:
    """Whether a followed name is this author: same surname and compatible given names.

    "Geoffrey Hinton" matches "Geoffrey E. Hinton"; "G. Hinton" matches "Geoffrey Hinton".
    """
    if not followed or not author or followed[-1] != author[-1]:
        return False
    if len(followed) == 1:
        return len(author) == 1
    first, other = followed[0], author[0]
    if len(first) == 1 or len(other) == 1:
        return first[0] == other[0]
    return first == other


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without repeats."""
    return list(dict.fromkeys(items))
