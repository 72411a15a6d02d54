"""The day's papers as a neighbourhood graph, and relevance spread along it.

A topic's strongest lexical matches of the day say what the subscriber's field writes
about today: a paper on "Nash equilibria in congestion games" is close to the papers that
say "game theory" outright, even though it never does. `build_neighbours` links each paper
to its `NEIGHBOURS` most similar papers of the day (cosine of IDF-weighted BM25F rows, so
rare shared terms and phrases count most); `spread` then adds to each query row's scores
the similarity to that row's best matches (a cluster-based score regularisation, in the
manner of pseudo-relevance feedback but on documents rather than terms).

The spread is scaled to the row's own best lexical score, and only papers that already
match the row well (`FEEDBACK_FLOOR`) pass relevance on, so a topic that nothing matches
today stays unmatched: neighbours reorder and complete a topic's papers, they never invent
a topic's day.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

NEIGHBOURS = 50  # per paper, kept in the graph
FEEDBACK_PAPERS = 10  # a row's best matches that pass relevance on
FEEDBACK_FLOOR = 0.3  # lexical score a paper needs to pass relevance on
SPREAD_WEIGHT = 0.7
MIN_LINKS = 2  # the most a neighbour gains, relative to the row's best match
_BLOCK = 1024
DENSE_LIMIT = 6000  # papers up to which the graph is multiplied as a dense matrix


def build_neighbours(matrix: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Papers x papers: cosine similarity to each paper's nearest neighbours (symmetric,
    zero diagonal). `matrix` holds the saturated term weights, `idf` the column IDFs."""
    count = matrix.shape[0]
    if count < 2:
        return sparse.csr_matrix((count, count), dtype=np.float32)
    weighted = sparse.csr_matrix(matrix.multiply(idf[None, :]), dtype=np.float32)
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    unit = (sparse.diags(1 / np.maximum(norms, 1e-9)) @ weighted).tocsr()
    keep = min(NEIGHBOURS, count - 1)
    rows, cols, values = [], [], []
    for start in range(0, count, _BLOCK):
        block = (unit[start : start + _BLOCK] @ unit.T).toarray()
        block[np.arange(block.shape[0]), np.arange(start, start + block.shape[0])] = 0.0
        nearest = np.argpartition(-block, keep - 1, axis=1)[:, :keep]
        rows.append(np.repeat(np.arange(start, start + block.shape[0]), keep))
        cols.append(nearest.ravel())
        values.append(np.take_along_axis(block, nearest, axis=1).ravel())
    graph = sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(count, count),
        dtype=np.float32,
    )
    graph = graph.maximum(graph.T).tocsr()
    graph.eliminate_zeros()
    return graph


def spread(scores: np.ndarray, neighbours: sparse.csr_matrix | np.ndarray) -> np.ndarray:
    """`scores` (query rows x papers) plus, per row, the similarity of each paper to the
    row's best matches, scaled so that the closest paper gains `SPREAD_WEIGHT` times the
    row's best score. Only papers linked to at least `MIN_LINKS` of those matches gain:
    one paper's neighbours are not yet a field. `neighbours` may be given dense (faster)."""
    count = scores.shape[1]
    if count < 2 or not scores.size:
        return scores
    take = min(FEEDBACK_PAPERS, count)
    top = np.argpartition(-scores, take - 1, axis=1)[:, :take]
    weights = np.take_along_axis(scores, top, axis=1)
    weights = np.where(weights >= FEEDBACK_FLOOR, weights, 0.0).astype(np.float32)
    pointers = np.arange(0, top.size + 1, take)
    feedback = sparse.csr_matrix((weights.ravel(), top.ravel(), pointers), shape=scores.shape)
    gained = _dense(feedback @ neighbours)
    feedback.data = (feedback.data > 0).astype(np.float32)
    linked = _dense(feedback @ (neighbours > 0).astype(np.float32))
    peak = gained.max(axis=1, keepdims=True)
    best = scores.max(axis=1, keepdims=True)
    scale = np.where(peak > 0, SPREAD_WEIGHT * best / np.maximum(peak, 1e-12), 0.0)
    gained *= scale.astype(np.float32)
    gained[linked < MIN_LINKS] = 0.0
    result: np.ndarray = scores + gained
    return result


def operand(graph: sparse.csr_matrix) -> sparse.csr_matrix | np.ndarray:
    """The graph in the form `spread` multiplies fastest: dense for a day of usual size."""
    return graph.toarray() if graph.shape[0] <= DENSE_LIMIT else graph


def _dense(product: object) -> np.ndarray:
    if isinstance(product, sparse.spmatrix | sparse.sparray):
        return np.asarray(product.toarray(), dtype=np.float32)
    return np.asarray(product, dtype=np.float32)
