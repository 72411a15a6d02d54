"""Score every profile against a day's index in batches, and decide what goes in.

`rank_profiles` is the entry point. For a batch of profiles it compiles each distinct
topic (and liked or disliked paper) once into a sparse query row, multiplies the stacked
rows by the index's term matrix (SciPy), takes per profile the best row for each paper
(so every topic counts, not only the loudest), and then applies, with NumPy:

- followed categories as a small boost (or, for a profile with nothing else, as the filter);
- disliked papers as negative evidence (similarity to them is subtracted);
- excluded words, which remove a paper outright, and papers to skip (already sent);
- followed authors, whose papers always go in;
- the adaptive cut-off: a paper must reach `MIN_RELEVANCE` and `RELATIVE_CUTOFF` times the
  profile's best paper of the day, so a quiet day sends few papers or none;
- trending signals, which reorder relevant papers but never admit an irrelevant one;
- near-duplicate suppression, and one slot kept for each topic that has a relevant paper.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from digest.rank.explain import explain_author, explain_match, explain_signals, join_reason
from digest.rank.index import PaperIndex, build_index
from digest.rank.queries import QueryRow, compile_paper, compile_topic
from digest.rank.text import names_match, normalise_name
from digest.records import Paper, Pick, Profile

MIN_RELEVANCE = 0.32
RELATIVE_CUTOFF = 0.4
TREND_WEIGHT = 0.25
CATEGORY_BOOST = 0.1
CATEGORY_ONLY_SCORE = 0.5
DISLIKE_WEIGHT = 0.5
AUTHOR_SCORE = 2.0
BATCH_SIZE = 2048
MAX_TOPICS = 50


@dataclass
class _Compiled:
    """Query rows of a run, each distinct topic or paper compiled once."""

    index: PaperIndex
    rows: list[QueryRow] = field(default_factory=list)
    keys: dict[tuple[str, str], int] = field(default_factory=dict)
    excluded: dict[str, np.ndarray] = field(default_factory=dict)

    def topic(self, text: str) -> int:
        key = ("topic", " ".join(text.lower().split()))
        if key not in self.keys:
            self.keys[key] = self._add(compile_topic(self.index, text))
        return self.keys[key]

    def paper(self, paper: Paper, kind: str) -> int:
        key = (kind, paper.id)
        if key not in self.keys:
            self.keys[key] = self._add(compile_paper(self.index, paper, kind))
        return self.keys[key]

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

    def excluded_papers(self, phrase: str) -> np.ndarray:
        """Rows of papers that contain every term of `phrase` (words and word pairs)."""
        if phrase not in self.excluded:
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
            self.excluded[phrase] = np.array(sorted(papers or ()), dtype=np.int64)
        return self.excluded[phrase]


@dataclass
class _Plan:
    """One profile's rows and masks, ready for the batch product."""

    profile: Profile
    positive: list[int]
    negative: list[int]
    skip: set[int]


def rank_papers(papers: Sequence[Paper], profile: Profile, *, max_items: int = 10) -> list[Pick]:
    """Rank one day's papers for one profile (indexes them first)."""
    return rank_profiles(build_index(papers), [profile], max_items=max_items)[0]


def rank_profiles(
    index: PaperIndex,
    profiles: Sequence[Profile],
    *,
    max_items: int = 10,
    skip: Sequence[Collection[str]] | None = None,
) -> list[list[Pick]]:
    """The digest picks of each profile, best first, in the order of `profiles`.

    `skip[i]` holds paper ids profile i must not get (for instance, already sent).
    """
    if skip is not None and len(skip) != len(profiles):
        raise ValueError("skip must have one entry per profile")
    if not len(index) or not profiles:
        return [[] for _ in profiles]
    compiled = _Compiled(index)
    plans = [_plan(compiled, p, skip[i] if skip else ()) for i, p in enumerate(profiles)]
    queries = compiled.matrix()
    results: list[list[Pick]] = []
    for start in range(0, len(plans), BATCH_SIZE):
        batch = plans[start : start + BATCH_SIZE]
        results.extend(_rank_batch(compiled, queries, batch, max(max_items, 1)))
    return results


def _plan(compiled: _Compiled, profile: Profile, skip: Collection[str]) -> _Plan:
    topics = [t for t in dict.fromkeys(profile.topics) if t.strip()][:MAX_TOPICS]
    positive = [compiled.topic(t) for t in topics]
    positive += [compiled.paper(p, "liked") for p in profile.liked]
    negative = [compiled.paper(p, "disliked") for p in profile.disliked]
    keep = [r for r in positive if not compiled.rows[r].empty]
    position = compiled.index.position
    return _Plan(
        profile=profile,
        positive=keep,
        negative=[r for r in negative if not compiled.rows[r].empty],
        skip={position[i] for i in skip if i in position},
    )


def _rank_batch(
    compiled: _Compiled, queries: sparse.csr_matrix, batch: list[_Plan], max_items: int
) -> list[list[Pick]]:
    index = compiled.index
    blank = queries.shape[0] - 1
    flat = [r for plan in batch for r in (plan.positive or [blank])]
    offsets = np.cumsum([0] + [len(plan.positive or [blank]) for plan in batch])[:-1]
    distinct, inverse = np.unique(np.array(flat, dtype=np.int64), return_inverse=True)
    scores = (queries[distinct] @ index.papers_by_term).toarray()
    per_row = scores[inverse]
    relevance = np.maximum.reduceat(per_row, offsets, axis=0)
    picks = []
    for i, plan in enumerate(batch):
        rows = per_row[offsets[i] : offsets[i] + len(plan.positive)]
        picks.append(_choose(compiled, queries, plan, relevance[i], rows, max_items))
    return picks


def _choose(
    compiled: _Compiled,
    queries: sparse.csr_matrix,
    plan: _Plan,
    relevance: np.ndarray,
    rows: np.ndarray,
    max_items: int,
) -> list[Pick]:
    """One profile's picks from its relevance over the day's papers."""
    index, profile = compiled.index, plan.profile
    relevance = _adjusted(compiled, queries, plan, relevance)
    authors = _followed_papers(index, profile.authors)
    barred = _excluded(compiled, profile.exclude) - authors.keys() | plan.skip
    if barred:
        relevance[list(barred)] = -np.inf
    eligible = relevance >= max(
        MIN_RELEVANCE, RELATIVE_CUTOFF * _best_topic(compiled, plan, rows, barred)
    )
    eligible[[a for a in authors if a not in plan.skip]] = True
    if not eligible.any():
        return []
    final = relevance * (1 + TREND_WEIGHT * index.trend)
    final[list(authors)] = AUTHOR_SCORE + final[list(authors)]
    chosen = _top_distinct(index, np.where(eligible, final, -np.inf), max_items)
    chosen = _keep_each_topic(index, rows, eligible, chosen, max_items)
    return [_pick(compiled, plan, rows, authors, r, float(final[r])) for r in chosen]


def _best_topic(compiled: _Compiled, plan: _Plan, rows: np.ndarray, barred: set[int]) -> float:
    """The profile's best topic match of the day (liked papers are too diffuse a yardstick)."""
    topics = [i for i, r in enumerate(plan.positive) if compiled.rows[r].kind == "topic"]
    if not topics:
        return 0.0
    best = rows[topics].max(axis=0)
    if barred:
        best[list(barred)] = 0.0
    return float(best.max())


def _adjusted(
    compiled: _Compiled, queries: sparse.csr_matrix, plan: _Plan, relevance: np.ndarray
) -> np.ndarray:
    """Relevance after categories and dislikes."""
    index, profile = compiled.index, plan.profile
    categories = [c.strip().lower() for c in profile.categories]
    in_categories = np.zeros(len(index), dtype=bool)
    for category in categories:
        rows = index.papers_by_category.get(category)
        if rows is not None:
            in_categories[rows] = True
    if not plan.positive and categories:
        relevance = np.where(in_categories, CATEGORY_ONLY_SCORE, 0.0).astype(np.float32)
    elif categories:
        relevance = relevance * np.where(in_categories, 1 + CATEGORY_BOOST, 1.0)
    if plan.negative:
        against = (queries[plan.negative] @ index.papers_by_term).toarray().max(axis=0)
        relevance = relevance - DISLIKE_WEIGHT * against
    return relevance


def _followed_papers(index: PaperIndex, authors: Sequence[str]) -> dict[int, str]:
    """Rows of papers by followed authors, with the name as the paper prints it."""
    found: dict[int, str] = {}
    for name in authors:
        key = normalise_name(name)
        if not key:
            continue
        for row, other, printed in index.authors_by_surname.get(key[-1], ()):
            if row not in found and names_match(key, other):
                found[row] = printed
    return found


def _excluded(compiled: _Compiled, phrases: Sequence[str]) -> set[int]:
    rows: set[int] = set()
    for phrase in phrases:
        if phrase.strip():
            rows.update(compiled.excluded_papers(phrase.strip()).tolist())
    return rows


def _top_distinct(index: PaperIndex, final: np.ndarray, max_items: int) -> list[int]:
    """The best rows by `final`, skipping near-duplicates of rows already taken."""
    wanted = min(final.size, max_items * 2 + 4)
    candidates = np.argpartition(-final, wanted - 1)[:wanted]
    candidates = candidates[np.lexsort((candidates, -final[candidates]))]
    chosen: list[int] = []
    groups: set[int] = set()
    for row in candidates.tolist():
        group = int(index.duplicate_of[row])
        if final[row] == -np.inf or group in groups:
            continue
        chosen.append(row)
        groups.add(group)
        if len(chosen) == max_items:
            break
    return chosen


def _keep_each_topic(
    index: PaperIndex, rows: np.ndarray, eligible: np.ndarray, chosen: list[int], max_items: int
) -> list[int]:
    """When the list is full, make room for the best paper of a topic that has none."""
    if len(rows) < 2 or len(chosen) < max_items:
        return chosen
    for topic_scores in rows:
        masked = np.where(eligible, topic_scores, -np.inf)
        best = int(np.argmax(masked))
        if masked[best] == -np.inf or masked[best] < MIN_RELEVANCE:
            continue
        taken = {int(index.duplicate_of[r]) for r in chosen}
        if int(index.duplicate_of[best]) in taken:
            continue
        represented = any(topic_scores[r] >= masked[best] * 0.999 for r in chosen)
        if not represented and len(chosen) > 1:
            chosen = [*chosen[:-1], best]
    return chosen


def _pick(
    compiled: _Compiled,
    plan: _Plan,
    rows: np.ndarray,
    authors: dict[int, str],
    paper: int,
    score: float,
) -> Pick:
    index, profile = compiled.index, plan.profile
    parts: list[str] = []
    topic = None
    if paper in authors:
        parts.append(explain_author(authors[paper]))
    if len(plan.positive) and (paper not in authors or rows[:, paper].max() >= MIN_RELEVANCE):
        row = compiled.rows[plan.positive[int(np.argmax(rows[:, paper]))]]
        parts.append(explain_match(index, row, paper))
        topic = row.label if row.kind == "topic" else None
    parts.extend(explain_signals(index, paper, profile.categories))
    return Pick(
        paper=index.papers[paper], score=round(score, 4), reason=join_reason(parts), topic=topic
    )
