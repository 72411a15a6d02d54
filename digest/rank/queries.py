"""Profiles compiled into weighted query rows over an index's terms.

A row is one thing a subscriber asked for: a topic phrase, a liked paper or a disliked
paper. Its weights are IDF values scaled so that a paper saturating every term would score
1.0; terms no paper of the day uses still count in that sum, so "quantum gravity" is only
half-matched by a paper about "quantum" alone. Scores of different topics, and of
different days, are thus on one scale, and one relevance threshold fits them all.

Liked and disliked papers are long queries: their strongest IDF-weighted terms, rescaled by
`LIKED_SCALE` so that "as similar as a typical close paper" lands on the topic scale. As
for topics, the words of the liked paper that no paper of the day uses still count in the
sum, and a short abstract weighs at least `LIKED_MIN_TERMS` rare words, so a liked paper from
another field is not "matched" by the day's few papers sharing its commonest words.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from digest.rank.index import PaperIndex
from digest.records import Paper

PAIR_WEIGHT = 1.0
ACRONYM_WEIGHT = 0.5
LIKED_TERMS = 200
LIKED_IDF_POWER = 1.0
LIKED_QUERY_K = 100.0
LIKED_PAIR_WEIGHT = 1.5
LIKED_SCALE = 6.5
LIKED_MIN_TERMS = 60  # a short abstract weighs as much as this many rare words at least
MAX_TOPIC_CHARS = 300


@dataclass(frozen=True, slots=True)
class QueryRow:
    """One compiled query: sparse weights over index columns, and words for reasons."""

    label: str
    kind: str  # "topic", "liked" (a 👍), "library" (liked from the library) or "disliked"
    columns: np.ndarray
    weights: np.ndarray
    words: tuple[tuple[int, str], ...]  # (column, surface word) of the unigram terms
    pairs: frozenset[int] = frozenset()  # columns of the word-pair (phrase) terms
    links: tuple[int, ...] = ()  # per word: column of its pair with the previous word, or -1

    @property
    def empty(self) -> bool:
        return self.columns.size == 0


def compile_topic(index: PaperIndex, topic: str) -> QueryRow:
    """A topic phrase as a query row: its stems, its order-free pairs, known acronyms."""
    text = " ".join(topic.split())
    if len(text) > MAX_TOPIC_CHARS:  # a pasted paragraph: keep whole words only
        text = text[: MAX_TOPIC_CHARS + 1].rsplit(" ", 1)[0]
    keep: frozenset[str] = frozenset()
    terms = Counter(index.analyse(text, keep=keep))
    weights = {t: index.idf(t) * (PAIR_WEIGHT if " " in t else 1.0) for t in terms}
    for acronym in _acronyms_of(index, terms):
        weights.setdefault(acronym, ACRONYM_WEIGHT * index.idf(acronym))
    total = sum(weights.values())
    words = _surface(index, text, keep)
    return _row(index, text, "topic", weights, total, words, _links(index, words))


def compile_paper(index: PaperIndex, paper: Paper, kind: str) -> QueryRow:
    """A liked or disliked paper as a long query of its strongest terms."""
    text = f"{paper.title}. {paper.title}. {paper.abstract[:5000]}"
    counts = Counter(index.analyse(text))
    weights = {
        term: index.idf(term) ** LIKED_IDF_POWER
        * n
        / (n + LIKED_QUERY_K)
        * (LIKED_PAIR_WEIGHT if " " in term else 1.0)
        for term, n in counts.items()
    }
    strongest = dict(sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:LIKED_TERMS])
    least = LIKED_MIN_TERMS * index.unseen_idf**LIKED_IDF_POWER / (1 + LIKED_QUERY_K)
    total = max(sum(strongest.values()), least) / LIKED_SCALE
    return _row(index, paper.title, kind, strongest, total, ())


def _row(
    index: PaperIndex,
    label: str,
    kind: str,
    weights: dict[str, float],
    total: float,
    words: tuple[tuple[int, str], ...],
    links: tuple[int, ...] = (),
) -> QueryRow:
    present = sorted((index.vocabulary[t], w) for t, w in weights.items() if t in index.vocabulary)
    columns = np.array([c for c, _ in present], dtype=np.int32)
    values = np.array([w for _, w in present], dtype=np.float32)
    if total > 0:
        values /= np.float32(total)
    pairs = frozenset(index.vocabulary[t] for t in weights if " " in t and t in index.vocabulary)
    return QueryRow(
        label=label,
        kind=kind,
        columns=columns,
        weights=values,
        words=words,
        pairs=pairs,
        links=links,
    )


def _acronyms_of(index: PaperIndex, terms: Counter[str]) -> list[str]:
    """Acronyms whose long form the topic spells out ("large language models" → llm)."""
    found = []
    for term in terms:
        for long_form, acronym in index.acronyms.get(term, ()):
            if acronym not in terms and all(stem in terms for stem in long_form):
                found.append(acronym)
    return found


def _surface(index: PaperIndex, text: str, keep: frozenset[str]) -> tuple[tuple[int, str], ...]:
    """Unigram columns of a topic with the words the subscriber wrote for them."""
    words = []
    for word in text.replace("-", " ").split():
        stems = index.analyzer.stems(word.strip(".,;:!?()\"'"))
        if not stems and word.lower() in keep:
            stems = [index.analyzer.stem(word.lower())]
        for stem in stems:
            column = index.vocabulary.get(stem)
            if column is not None:
                words.append((column, word.strip(".,;:!?()\"'")))
    return tuple(dict.fromkeys(words))


def _links(index: PaperIndex, words: tuple[tuple[int, str], ...]) -> tuple[int, ...]:
    """For each topic word, the index column of its pair with the word before (-1 if none),
    so a reason can tell "image compression" said together from the two words apart."""
    links = [-1] * len(words)
    vocabulary = index.vocabulary
    stems = [index.analyzer.stem(word) for _, word in words]
    for i in range(1, len(words)):
        first, second = stems[i - 1], stems[i]
        if first != second:
            pair = f"{first} {second}" if first < second else f"{second} {first}"
            links[i] = vocabulary.get(pair, -1)
    return tuple(links)
