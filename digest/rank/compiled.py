"""The query rows of one ranking run: each distinct topic, liked or disliked paper
compiled once (`queries`), stacked for the batch products, and what selection needs
about them later: which rows are topics, the papers behind paper rows and their
embeddings (with the optional dense model), excluded phrases, and the wording of
matches. Compiled topics, the wording of their matches and excluded phrases are kept in
the index's `RankMemo` for the next runs over the same index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from scipy import sparse

from digest.rank.dense import paper_text
from digest.rank.explain import explain_match
from digest.rank.index import MEMO_LIMIT, PaperIndex
from digest.rank.neighbours import operand
from digest.rank.queries import QueryRow, compile_paper, compile_topic
from digest.records import Paper

K = TypeVar("K")
V = TypeVar("V")
_BLANK = -2  # a topic of white space only
_EMPTY = -1  # a topic none of whose terms is in the day's index


@dataclass
class Compiled:
    """Query rows of a run, each distinct topic or paper compiled once."""

    index: PaperIndex
    rows: list[QueryRow] = field(default_factory=list)
    keys: dict[tuple[str, str], int] = field(default_factory=dict)
    by_text: dict[str, int] = field(default_factory=dict)  # topic as written -> row
    matches: dict[int, str] = field(default_factory=dict)  # row * papers + paper -> reason
    wordings: dict[int, str] = field(default_factory=dict)  # topic row -> its memo key
    is_topic: np.ndarray | None = None
    sources: dict[int, Paper] = field(default_factory=dict)  # row -> liked/disliked paper
    vectors: dict[int, np.ndarray] = field(default_factory=dict)  # row -> its embedding
    neighbours: sparse.csr_matrix | np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.neighbours = operand(self.index.neighbours)

    def topic(self, text: str) -> int:
        key = ("topic", " ".join(text.lower().split()))
        if key not in self.keys:
            # Kept by the exact wording: a row's label is the wording its reasons quote.
            topics = self.index.memo.topics
            row = topics.get(text)
            if row is None:
                row = compile_topic(self.index, text)
                _bounded(topics)[text] = row
            self.keys[key] = self._add(row)
            self.wordings[self.keys[key]] = text
        return self.keys[key]

    def topic_rows(self, topics: Sequence[str], limit: int) -> list[int]:
        """Rows of a profile's topics: each wording once, blank ones left out, the first
        `limit` of the others, and of those the ones that use a term of the day."""
        rows: list[int] = []
        taken = 0
        for text in dict.fromkeys(topics):
            row = self.by_text.get(text)
            if row is None:
                row = self.by_text[text] = self._topic_row(text)
            if row == _BLANK:
                continue
            taken += 1
            if taken > limit:
                break
            if row != _EMPTY:
                rows.append(row)
        return rows

    def _topic_row(self, text: str) -> int:
        if not text.strip():
            return _BLANK
        row = self.topic(text)
        return _EMPTY if self.rows[row].empty else row

    def paper(self, paper: Paper, kind: str) -> int:
        key = (kind, paper.id)
        if key not in self.keys:
            self.keys[key] = self._add(compile_paper(self.index, paper, kind))
            self.sources[self.keys[key]] = paper
        return self.keys[key]

    def paper_vectors(self, rows: np.ndarray) -> np.ndarray:
        """Unit vectors of the liked papers behind `rows` (zeros for other rows); each
        paper is embedded once per run, or taken from the index when it is in it."""
        index, embedder = self.index, self.index.embedder
        if embedder is None or index.embeddings is None:
            raise ValueError("the index has no embeddings")
        wanted = [r for r in rows.tolist() if r in self.sources and r not in self.vectors]
        fresh = [r for r in wanted if self.sources[r].id not in index.position]
        for row in wanted:
            if row not in fresh:
                self.vectors[row] = index.embeddings[index.position[self.sources[row].id]]
        if fresh:
            vectors = embedder.embed([paper_text(self.sources[r]) for r in fresh])
            self.vectors.update(zip(fresh, vectors, strict=True))
        out = np.zeros((len(rows), embedder.dimensions), dtype=np.float32)
        for i, row in enumerate(rows.tolist()):
            if row in self.vectors:
                out[i] = self.vectors[row]
        return out

    def match_reason(self, row: int, paper: int) -> str:
        """`explain_match` of query row `row` and `paper`, worded once per run."""
        wording = self.wordings.get(row)
        if wording is not None:
            reasons = self.index.memo.reasons
            reason = reasons.get((wording, paper))
            if reason is None:
                reason = explain_match(self.index, self.rows[row], paper)
                _bounded(reasons)[wording, paper] = reason
            return reason
        key = row * len(self.index) + paper
        reason = self.matches.get(key)
        if reason is None:
            reason = self.matches[key] = explain_match(self.index, self.rows[row], paper)
        return reason

    def topic_mask(self) -> np.ndarray:
        """Per row (and the final blank row), whether it is a topic."""
        if self.is_topic is None or self.is_topic.size != len(self.rows) + 1:
            self.is_topic = np.array([r.kind == "topic" for r in self.rows] + [False])
        return self.is_topic

    def _add(self, row: QueryRow) -> int:
        self.rows.append(row)
        return len(self.rows) - 1

    def matrix(self) -> sparse.csr_matrix:
        """All rows stacked, plus a last all-zero row for profiles with nothing to match."""
        lengths = [r.columns.size for r in self.rows] + [0]
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        columns = [r.columns for r in self.rows] or [np.zeros(0, np.int32)]
        weights = [r.weights for r in self.rows] or [np.zeros(0, np.float32)]
        shape = (len(self.rows) + 1, len(self.index.vocabulary))
        data = (np.concatenate(weights), np.concatenate(columns), indptr)
        return sparse.csr_matrix(data, shape=shape)

    def excluded_papers(self, phrase: str) -> frozenset[int]:
        """Rows of papers that contain every term of `phrase` (words and word pairs),
        and of their near-duplicates (the same paper again)."""
        excluded = self.index.memo.excluded
        if phrase not in excluded:
            terms = self.index.analyse(phrase, keep=frozenset(phrase.lower().split()))
            papers = None
            for term in terms:
                column = self.index.vocabulary.get(term)
                having = (
                    set()
                    if column is None
                    else set(self.index.papers_by_term[column].indices.tolist())
                )
                papers = having if papers is None else papers & having
            rows = np.array(sorted(papers or ()), dtype=np.int64)
            groups = self.index.duplicate_of
            again = np.flatnonzero(np.isin(groups, groups[rows])) if rows.size else rows
            _bounded(excluded)[phrase] = frozenset(again.tolist())
        return excluded[phrase]


def _bounded(memo: dict[K, V]) -> dict[K, V]:
    """`memo`, emptied first when it is full (see `MEMO_LIMIT`)."""
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    return memo
