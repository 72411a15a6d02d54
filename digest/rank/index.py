"""The day's papers, indexed once: `build_index(papers, vectors) -> PaperIndex`.

Words: each paper's title and abstract become content stems (see `text`), with acronyms
defined anywhere in the day's papers added wherever their long form appears ("large
language models" also counts as "llm"). Two sparse 0/1 matrices record which stems each
paper has anywhere and in its title; with the stems' IDF over the day they give a topic's
coverage of each paper by one sparse product (see `topics`).

Meaning: the papers' stored sentence vectors (unit rows, one per paper), or none. A zero
row stands for a paper that has no vector yet (`embedded` is False there): the ranking
judges that paper by its words alone, and leaves it out of the day's statistics of meaning.

Also per paper: normalised author names and lower-cased categories, for followed authors
and categories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from digest.rank.text import Analyzer, find_acronyms, normalise_name
from digest.records import Paper

MAX_TEXT = 20_000  # characters of an abstract that are read; the rest is noise
# first stem of a long form -> (long-form stems, acronym stem) pairs
Acronyms = dict[str, list[tuple[tuple[str, ...], str]]]


@dataclass(frozen=True, eq=False)
class PaperIndex:
    """A day's papers ready for scoring. Build with `build_index`; treat as read-only."""

    papers: tuple[Paper, ...]
    analyzer: Analyzer
    acronyms: Acronyms
    vocabulary: dict[str, int]
    idf: np.ndarray  # per stem
    unseen_idf: float  # of a stem no paper of the day has
    anywhere: sparse.csr_matrix  # papers x stems: 1 where the paper has the stem
    in_title: sparse.csr_matrix  # papers x stems: 1 where its title has it
    vectors: np.ndarray | None  # papers x dimensions, unit rows; None: words only
    embedded: np.ndarray  # per paper: True where it has a vector (a nonzero row)
    authors: tuple[tuple[tuple[str, ...], ...], ...]  # per paper, normalised names
    categories: tuple[frozenset[str], ...]  # per paper, lower-cased
    position: dict[str, int]  # paper id -> row
    cache: dict[str, object] = field(default_factory=dict, repr=False)  # compiled topics

    def __len__(self) -> int:
        return len(self.papers)

    def stems(self, text: str) -> list[str]:
        """Content stems of `text` in reading order, long forms followed by their acronym."""
        runs, joined = self.analyzer.runs(text)
        out: list[str] = []
        for run in runs:
            out.extend(with_acronyms(run, self.acronyms))
        return out + joined


def build_index(papers: Sequence[Paper], *, vectors: np.ndarray | None = None) -> PaperIndex:
    """Index a day's papers once; every profile is then scored against the result.

    `vectors` are the papers' stored sentence vectors, one row per paper in order."""
    papers = tuple(papers)
    if vectors is not None and vectors.shape[0] != len(papers):
        raise ValueError(f"{vectors.shape[0]} vectors for {len(papers)} papers")
    analyzer = Analyzer()
    acronyms = learn_acronyms(papers, analyzer)
    titles, bodies = [], []
    for paper in papers:
        title = _stems(paper.title, analyzer, acronyms)
        titles.append(title)
        bodies.append(title | _stems(paper.abstract[:MAX_TEXT], analyzer, acronyms))
    vocabulary: dict[str, int] = {}
    for stems in bodies:
        for stem in sorted(stems):
            vocabulary.setdefault(stem, len(vocabulary))
    anywhere = _binary(bodies, vocabulary)
    df = np.bincount(anywhere.indices, minlength=len(vocabulary)).astype(np.float64)
    count = len(papers)
    return PaperIndex(
        papers=papers,
        analyzer=analyzer,
        acronyms=acronyms,
        vocabulary=vocabulary,
        idf=np.log1p((count - df + 0.5) / (df + 0.5)),
        unseen_idf=float(np.log1p((count + 0.5) / 0.5)),
        anywhere=anywhere,
        in_title=_binary(titles, vocabulary),
        vectors=None if vectors is None else np.asarray(vectors, dtype=np.float32),
        embedded=(np.zeros(count, dtype=bool) if vectors is None else np.any(vectors != 0, axis=1)),
        authors=tuple(tuple(normalise_name(a) for a in p.authors) for p in papers),
        categories=tuple(frozenset(c.lower() for c in p.categories) for p in papers),
        position={p.id: i for i, p in enumerate(papers)},
    )


def learn_acronyms(papers: Sequence[Paper], analyzer: Analyzer) -> Acronyms:
    """Acronyms the day's papers define ("Large Language Models (LLMs)"), first one wins."""
    seen: dict[tuple[str, ...], str] = {}
    for paper in papers:
        text = f"{paper.title}. {paper.abstract[:MAX_TEXT]}"
        for long_form, acronym in find_acronyms(text, analyzer):
            seen.setdefault(long_form, acronym)
    table: Acronyms = {}
    for long_form, acronym in seen.items():
        table.setdefault(long_form[0], []).append((long_form, acronym))
    return table


def with_acronyms(run: list[str], acronyms: Acronyms) -> list[str]:
    """A run of stems with the acronym added after each long form it contains."""
    if not acronyms or len(run) < 2:
        return run
    out = list(run)
    for start, stem in enumerate(run):
        for long_form, acronym in acronyms.get(stem, ()):
            if tuple(run[start : start + len(long_form)]) == long_form:
                out.append(acronym)
    return out


def _stems(text: str, analyzer: Analyzer, acronyms: Acronyms) -> set[str]:
    runs, joined = analyzer.runs(text)
    return {s for run in runs for s in with_acronyms(run, acronyms)} | set(joined)


def _binary(rows: list[set[str]], vocabulary: dict[str, int]) -> sparse.csr_matrix:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    indices = np.fromiter(
        (vocabulary[s] for r in rows for s in sorted(r)), dtype=np.int32, count=int(indptr[-1])
    )
    data = np.ones(len(indices), dtype=np.float32)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), len(vocabulary)))
