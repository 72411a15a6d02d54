"""How relevant each paper is to a topic or a liked paper: a fitted logistic model.

For a topic and a paper the features are

    cos    the cosine of their sentence vectors (the topic's stored vector, the paper's);
    zcos   that cosine standardised over the day's papers for this topic: how unusually
           close the paper is, today, compared with the rest of the day;
    cov    the weighted share of the topic's content words the paper has (see `topics`);
    covt   the same share in the paper's title;
    zfeed  pseudo-relevance feedback: the cosine of the paper to the centroid of the
           topic's `FEEDBACK_PAPERS` best matches of the day (by the other four features),
           standardised over the day like zcos — papers of the topic's field that avoid
           its words but sit next to its clearest matches;

and `logit = bias + Σ weight × feature` estimates log-odds that a reader would grade the
paper clearly relevant (grade ≥ 2 of 3). A second estimate judges the pair on its own
merits, from the three features that do not depend on the rest of the day (cos, cov, covt;
`weights.ON_ITS_OWN`, discounted so that it speaks only when it is confident), and the
larger of the two counts: on a day crowded with the topic's field, or a small one, the
standardised features of every relevant paper are low, and a paper that is plainly on
topic must not fall under the bar for that. A topic without a stored vector (or a day
without paper vectors) is scored by the words-only model, and so is a paper without a
vector (a zero row): it is left out of the day's statistics (zcos, zfeed) too. A liked
paper is scored like a topic, from the cosine of the two papers' vectors and the
IDF-weighted cosine of their words, each also standardised over the day, and on
its own merits from the two alone (`weights.LIKED_ON_ITS_OWN`). Every weight is in
`weights`, with the cross-validated measurement that set it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from digest.rank import weights
from digest.rank.index import PaperIndex
from digest.rank.topics import Topic, coverage
from digest.records import Paper


def topic_logits(
    index: PaperIndex, topics: Sequence[Topic], vectors: Sequence[np.ndarray | None]
) -> np.ndarray:
    """Topics x papers: the log-odds that each paper is clearly relevant to each topic."""
    cov, covt = coverage(index, topics)
    words = weights.WORDS_ONLY
    logits = words.bias + words.cov * cov + words.covt * covt
    meaning_of = _cosines(index, vectors)
    if meaning_of is None:
        return logits
    rows, cos, known, day = meaning_of
    model = weights.WITH_MEANING
    first = (
        model.bias
        + model.cos * cos
        + model.zcos * standardised(cos, known)
        + model.cov * cov[rows]
        + model.covt * covt[rows]
    )
    in_context = first + model.zfeed * feedback(day, first, known)
    own = weights.ON_ITS_OWN
    on_its_own = own.bias + own.cos * cos + own.cov * cov[rows] + own.covt * covt[rows]
    return _with_meaning(logits, rows, np.maximum(in_context, on_its_own), known)


def feedback(vectors: np.ndarray, first: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Rows x papers: standardised cosine to the centroid of each row's best papers (of
    those with a vector, when `known` says which)."""
    if known is not None:
        first = np.where(known, first, -np.inf)
    seeds = min(weights.FEEDBACK_PAPERS, first.shape[1] if known is None else int(known.sum()))
    best = np.argpartition(-first, seeds - 1, axis=1)[:, :seeds]
    centroids = vectors[best].mean(axis=1)
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
    return standardised(centroids @ vectors.T, known)


def liked_logits(
    index: PaperIndex, liked: Sequence[Paper], vectors: Sequence[np.ndarray | None]
) -> np.ndarray:
    """Liked papers x papers: the log-odds that each paper is one the reader would also like."""
    words = word_cosine(index, liked)
    zwords = standardised(words)
    model = weights.LIKED_WORDS_ONLY
    logits = model.bias + model.words * words + model.zwords * zwords
    meaning_of = _cosines(index, vectors)
    if meaning_of is None:
        return logits
    rows, cos, known, _ = meaning_of
    model = weights.LIKED
    in_context = (
        model.bias
        + model.cos * cos
        + model.zcos * standardised(cos, known)
        + model.words * words[rows]
        + model.zwords * zwords[rows]
    )
    own = weights.LIKED_ON_ITS_OWN
    on_its_own = own.bias + own.cos * cos + own.words * words[rows]
    return _with_meaning(logits, rows, np.maximum(in_context, on_its_own), known)


class _Meaning(NamedTuple):
    rows: list[int]  # the topics (or liked papers) that have a vector
    cos: np.ndarray  # their cosines to the day's papers
    known: np.ndarray | None  # which of the day's papers have a vector (None: all)
    day: np.ndarray  # the day's paper vectors


def _cosines(index: PaperIndex, vectors: Sequence[np.ndarray | None]) -> _Meaning | None:
    """What the meaning model reads, or None when it cannot score anything."""
    found = [(i, v) for i, v in enumerate(vectors) if v is not None]
    day = index.vectors
    if day is None or not found or not len(index) or not index.embedded.any():
        return None
    known = None if index.embedded.all() else index.embedded
    cos = np.stack([v for _, v in found]).astype(np.float32) @ day.T
    return _Meaning([i for i, _ in found], cos, known, day)


def _with_meaning(
    logits: np.ndarray, rows: list[int], meaning: np.ndarray, known: np.ndarray | None
) -> np.ndarray:
    """`logits` with the meaning model's log-odds in `rows`, for the papers that have a
    vector (the others keep the words-only log-odds)."""
    logits[rows] = meaning if known is None else np.where(known, meaning, logits[rows])
    return logits


def standardised(values: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Each row as z-scores over its own papers, or over the `known` ones (a row with no
    spread gives zeros)."""
    sample = values if known is None else values[:, known]
    mean = sample.mean(axis=1, keepdims=True)
    spread = sample.std(axis=1, keepdims=True)
    return np.asarray((values - mean) / np.maximum(spread, 1e-6), dtype=np.float64)


def probability(logits: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50))), dtype=np.float64)


def word_cosine(index: PaperIndex, papers: Sequence[Paper]) -> np.ndarray:
    """Papers x day's papers: cosine of IDF-weighted word sets."""
    day = index.anywhere.multiply(index.idf[np.newaxis, :]).tocsr()
    day_norm = np.sqrt(np.asarray(day.multiply(day).sum(axis=1)).ravel())
    out = np.zeros((len(papers), len(index)))
    for row, paper in enumerate(papers):
        stems = set(index.stems(f"{paper.title}. {paper.abstract}"))
        columns = [index.vocabulary[s] for s in stems if s in index.vocabulary]
        if not columns:
            continue
        query = np.zeros(len(index.vocabulary))
        query[columns] = index.idf[columns]
        unseen = len(stems) - len(columns)
        norm = np.sqrt(float(query @ query) + unseen * index.unseen_idf**2)
        out[row] = (day @ query) / np.maximum(day_norm * norm, 1e-9)
    return out
