"""The day's papers, indexed once: `build_index(papers) -> PaperIndex`.

Each paper becomes a row of a sparse term matrix whose columns are stems and order-free
stem pairs (phrase credit). A cell holds the BM25F-saturated weight of that term in that
paper, in [0, 1): title occurrences count `TITLE_WEIGHT` times an abstract occurrence,
each field is length-normalised, and the saturation means a word said ten times is
barely better than one said twice. IDF is kept apart (`idf`), so a query's weights, and so
its best possible score, are known before any paper is looked at; that is what makes the
relevance scores comparable across topics and days.

The index also holds what selection and explanation need per paper: title terms, the
followed-author keys, categories, a trending signal, near-duplicate groups, and the graph
of each paper's nearest neighbours of the day (see `neighbours`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from digest.rank.dense import Embedder, paper_text
from digest.rank.neighbours import build_neighbours
from digest.rank.text import Analyzer, bigrams, find_acronyms, normalise_name
from digest.records import Paper

if TYPE_CHECKING:
    from digest.rank.queries import QueryRow

TITLE_WEIGHT = 2.5
K1 = 1.2
TITLE_B = 0.3
ABSTRACT_B = 0.75
MAX_TEXT = 20_000  # characters of an abstract that are read; the rest is noise
DUPLICATE_COSINE = 0.9
AcronymTable = dict[str, list[tuple[tuple[str, ...], str]]]


MEMO_LIMIT = 200_000  # entries of each kind a `RankMemo` keeps before starting afresh


@dataclass
class RankMemo:
    """What ranking runs over one index share, worked out once: each topic compiled (by
    its exact wording, which its reasons quote), each match of a topic and a paper
    worded, the papers behind each excluded phrase. A delivery day ranks the same few
    thousand topics for thousands of batches. Each kind is bounded by `MEMO_LIMIT`
    entries."""

    topics: dict[str, QueryRow] = field(default_factory=dict)
    reasons: dict[tuple[str, int], str] = field(default_factory=dict)
    excluded: dict[str, frozenset[int]] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class PaperIndex:
    """A day's papers ready for scoring. Build with `build_index`; treat as read-only."""

    papers: tuple[Paper, ...]
    analyzer: Analyzer
    vocabulary: dict[str, int]
    idf_values: np.ndarray  # per column
    unseen_idf: float
    terms_by_paper: sparse.csr_matrix  # papers x terms, saturated weights
    papers_by_term: sparse.csr_matrix  # its transpose, for query x paper products
    title_terms: tuple[frozenset[int], ...]
    paper_terms: tuple[frozenset[int], ...]
    acronyms: AcronymTable
    authors_by_surname: dict[str, list[tuple[int, tuple[str, ...], str]]]
    papers_by_category: dict[str, np.ndarray]
    trend: np.ndarray  # per paper, in [0, 1]
    duplicate_of: np.ndarray  # per paper: the index of the first paper of its group
    neighbours: sparse.csr_matrix  # papers x papers, similarity to the nearest ones
    position: dict[str, int]  # paper id -> row
    embedder: Embedder | None = None  # the optional sentence model (see `dense`)
    embeddings: np.ndarray | None = None  # per paper, unit vectors from `embedder`
    memo: RankMemo = field(default_factory=RankMemo, repr=False)  # shared by ranking runs

    def __len__(self) -> int:
        return len(self.papers)

    def idf(self, term: str) -> float:
        """IDF of a term on this day; terms no paper uses get the highest value."""
        column = self.vocabulary.get(term)
        return self.unseen_idf if column is None else float(self.idf_values[column])

    def analyse(self, text: str, *, keep: frozenset[str] = frozenset()) -> list[str]:
        """Unigram and pair terms of `text` after the same normalisation as the papers."""
        runs, joined = self.analyzer.runs(text, keep=keep)
        runs = [insert_acronyms(run, self.acronyms) for run in runs]
        terms = [stem for run in runs for stem in run] + joined
        return terms + [pair for run in runs for pair in bigrams(run)]


def build_index(
    papers: Sequence[Paper],
    *,
    analyzer: Analyzer | None = None,
    embedder: Embedder | None = None,
    vectors: np.ndarray | None = None,
) -> PaperIndex:
    """Index a day's papers once; every profile is then scored against the result.

    With an `embedder` (the optional `dense` extra), the papers are also embedded, once,
    and liked papers are then matched by meaning as well as by words."""
    analyzer = analyzer or Analyzer()
    papers = tuple(papers)
    acronyms = _learn_acronyms(papers, analyzer)
    fields = [_field_terms(p, analyzer, acronyms) for p in papers]
    vocabulary: dict[str, int] = {}
    for title, abstract in fields:
        for term in (*title, *abstract):
            vocabulary.setdefault(term, len(vocabulary))
    matrix = _weights(fields, vocabulary)
    df = np.bincount(matrix.indices, minlength=len(vocabulary)).astype(np.float64)
    count = len(papers)
    idf_values = np.log1p((count - df + 0.5) / (df + 0.5)).astype(np.float32)
    return PaperIndex(
        papers=papers,
        analyzer=analyzer,
        vocabulary=vocabulary,
        idf_values=idf_values,
        unseen_idf=math.log1p((count + 0.5) / 0.5),
        terms_by_paper=matrix,
        papers_by_term=matrix.T.tocsr(),
        title_terms=tuple(frozenset(vocabulary[t] for t in title) for title, _ in fields),
        paper_terms=tuple(
            frozenset(matrix.indices[matrix.indptr[i] : matrix.indptr[i + 1]].tolist())
            for i in range(count)
        ),
        acronyms=acronyms,
        authors_by_surname=_authors_by_surname(papers),
        papers_by_category=_papers_by_category(papers),
        trend=_trend(papers),
        duplicate_of=_duplicate_groups(papers, matrix, analyzer),
        neighbours=build_neighbours(matrix, idf_values),
        position={p.id: i for i, p in enumerate(papers)},
        embedder=embedder,
        embeddings=(
            vectors
            if vectors is not None
            else embedder.embed([paper_text(p) for p in papers])
            if embedder
            else None
        ),
    )


def _authors_by_surname(
    papers: Sequence[Paper],
) -> dict[str, list[tuple[int, tuple[str, ...], str]]]:
    """surname -> (paper row, normalised name, name as printed), for followed authors."""
    found: dict[str, list[tuple[int, tuple[str, ...], str]]] = {}
    for row, paper in enumerate(papers):
        for name in paper.authors:
            key = normalise_name(name)
            if key:
                found.setdefault(key[-1], []).append((row, key, name))
    return found


def _papers_by_category(papers: Sequence[Paper]) -> dict[str, np.ndarray]:
    rows: dict[str, list[int]] = {}
    for row, paper in enumerate(papers):
        for category in dict.fromkeys(c.strip().lower() for c in paper.categories):
            rows.setdefault(category, []).append(row)
    return {c: np.array(r, dtype=np.int64) for c, r in rows.items()}


def insert_acronyms(run: list[str], table: AcronymTable) -> list[str]:
    """`run` with the acronym added after each long form ("larg languag model" + "llm")."""
    if not table:
        return run
    out: list[str] = []
    for i, stem in enumerate(run):
        out.append(stem)
        for long_form, acronym in table.get(stem, ()):
            end = i - len(long_form) + 1
            if end >= 0 and tuple(run[end : i + 1]) == long_form and out[-1] != acronym:
                out.append(acronym)
    return out


def _learn_acronyms(papers: Sequence[Paper], analyzer: Analyzer) -> AcronymTable:
    """Long form → acronym pairs defined in the day's texts, keyed by the long form's
    last stem; a long form defined with two different acronyms keeps the commoner one."""
    seen: Counter[tuple[tuple[str, ...], str]] = Counter()
    for paper in papers:
        seen.update(find_acronyms(f"{paper.title}. {paper.abstract[:MAX_TEXT]}", analyzer))
    best: dict[tuple[str, ...], str] = {}
    for (long_form, acronym), _ in seen.most_common():
        if acronym not in long_form:
            best.setdefault(long_form, acronym)
    table: AcronymTable = {}
    for long_form, acronym in sorted(best.items()):
        table.setdefault(long_form[-1], []).append((long_form, acronym))
    return table


def _field_terms(
    paper: Paper, analyzer: Analyzer, acronyms: AcronymTable
) -> tuple[list[str], list[str]]:
    result = []
    for text in (paper.title, paper.abstract[:MAX_TEXT]):
        runs, joined = analyzer.runs(text)
        runs = [insert_acronyms(run, acronyms) for run in runs]
        terms = [s for run in runs for s in run] + joined
        result.append(terms + [pair for run in runs for pair in bigrams(run)])
    return result[0], result[1]


def _weights(
    fields: list[tuple[list[str], list[str]]], vocabulary: dict[str, int]
) -> sparse.csr_matrix:
    """Papers x terms matrix of BM25F-saturated weights (title counts `TITLE_WEIGHT`×)."""
    if not fields:
        return sparse.csr_matrix((0, len(vocabulary)), dtype=np.float32)
    title_lengths = np.array([max(len(t), 1) for t, _ in fields], dtype=np.float64)
    abstract_lengths = np.array([max(len(a), 1) for _, a in fields], dtype=np.float64)
    title_norm = 1 - TITLE_B + TITLE_B * title_lengths / title_lengths.mean()
    abstract_norm = 1 - ABSTRACT_B + ABSTRACT_B * abstract_lengths / abstract_lengths.mean()
    title_keys, title_counts = _term_counts([t for t, _ in fields], vocabulary)
    abstract_keys, abstract_counts = _term_counts([a for _, a in fields], vocabulary)
    width = len(vocabulary)
    title_tf = TITLE_WEIGHT * title_counts / title_norm[title_keys // width]
    abstract_tf = abstract_counts / abstract_norm[abstract_keys // width]
    keys, where = np.unique(np.concatenate([title_keys, abstract_keys]), return_inverse=True)
    tf = np.bincount(where, weights=np.concatenate([title_tf, abstract_tf]))  # title first
    saturated = (tf / (tf + K1)).astype(np.float32)
    shape = (len(fields), width)
    return sparse.csr_matrix((saturated, (keys // width, keys % width)), shape=shape)


def _term_counts(
    texts: list[list[str]], vocabulary: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """How often each term is in each text: distinct `row * len(vocabulary) + column`
    keys, in order, and their counts."""
    columns = np.fromiter(
        (vocabulary[term] for text in texts for term in text),
        dtype=np.int64,
        count=sum(map(len, texts)),
    )
    rows = np.repeat(np.arange(len(texts)), [len(text) for text in texts])
    keys, counts = np.unique(rows * len(vocabulary) + columns, return_counts=True)
    return keys, counts


def _trend(papers: Sequence[Paper]) -> np.ndarray:
    dates = [p.published for p in papers if p.published is not None]
    try:
        newest = max(dates) if dates else None
    except TypeError:  # naive and aware datetimes mixed: no recency signal
        newest = None
    return np.array([trend_signal(p, newest) for p in papers], dtype=np.float32)


def trend_signal(paper: Paper, newest: datetime | None) -> float:
    """How much attention a paper gets, in [0, 1]: upvotes, code stars, then recency
    (relative to `newest`, the latest publication time of the day)."""
    upvotes = min(math.log1p(max(paper.upvotes or 0, 0)) / math.log1p(100), 1.0)
    stars = min(math.log1p(max(paper.stars or 0, 0)) / math.log1p(1000), 1.0)
    return 0.6 * upvotes + 0.3 * stars + 0.1 * _recency(paper.published, newest)


def _recency(published: datetime | None, newest: datetime | None) -> float:
    if published is None or newest is None:
        return 0.0
    try:
        age_days = (newest - published).total_seconds() / 86400
    except TypeError:  # naive and aware datetimes mixed: no recency signal
        return 0.0
    return float(math.exp(-max(age_days, 0.0) / 3))


def _duplicate_groups(
    papers: Sequence[Paper], matrix: sparse.csr_matrix, analyzer: Analyzer
) -> np.ndarray:
    """For each paper, the first paper it near-duplicates (itself when none)."""
    group = np.arange(len(papers))
    titles: dict[tuple[str, ...], int] = {}
    for i, paper in enumerate(papers):
        key = tuple(analyzer.stems(paper.title))
        if key and key in titles:
            group[i] = titles[key]
        elif key:
            titles[key] = i
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    unit = sparse.diags(1 / np.maximum(norms, 1e-9)) @ matrix
    for start in range(0, len(papers), 1024):
        block = (unit[start : start + 1024] @ unit.T).toarray()
        for offset, row in enumerate(block):
            i = start + offset
            similar = np.flatnonzero(row[:i] >= DUPLICATE_COSINE)
            if similar.size and group[i] == i:
                group[i] = group[similar[0]]
    return group
