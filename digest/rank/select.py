"""Score every profile against a day's index in batches, and decide what goes in.

`rank_profiles` is the entry point. For a batch of profiles it compiles each distinct
topic (and liked or disliked paper) once into a sparse query row, multiplies the stacked
rows by the index's term matrix (SciPy), takes per profile the best row for each paper
(so every topic counts, not only the loudest), and then applies, with NumPy:

- followed categories as a small boost (or, for a profile with nothing else, as the filter);
- disliked papers as negative evidence (similarity to them is subtracted);
- excluded words, which remove a paper (and its near-duplicates) outright, and papers to
  skip (already sent);
- followed authors, whose papers always go in;
- relevance spread to the close neighbours of each topic's best matches of the day
  (`neighbours`), so papers of the topic's field that avoid its exact words still count;
- with the optional sentence model (`dense`), liked papers' similarity in meaning;
- the adaptive cut-off: a paper must reach `MIN_RELEVANCE` and `RELATIVE_CUTOFF` times the
  profile's best topic match of the day (liked papers: `LIKED_MIN_RELEVANCE`), so a quiet
  day sends few papers or none;
- trending signals, which reorder relevant papers but never admit an irrelevant one;
- near-duplicate suppression, and one slot kept for each topic that has a relevant paper.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from digest.rank.compiled import Compiled
from digest.rank.dense import similarity_bonus
from digest.rank.explain import explain_author, explain_match, explain_signals, join_reason
from digest.rank.index import PaperIndex, build_index
from digest.rank.neighbours import spread
from digest.rank.text import names_match, normalise_name
from digest.records import Paper, Pick, Profile

MIN_RELEVANCE = 0.3
RELATIVE_CUTOFF = 0.3
LIKED_MIN_RELEVANCE = 0.2
TREND_WEIGHT = 0.25
CATEGORY_BOOST = 0.1
CATEGORY_ONLY_SCORE = 0.5
DISLIKE_WEIGHT = 0.5
AUTHOR_SCORE = 2.0
BATCH_SIZE = 2048
MAX_TOPICS = 50


@dataclass
class _Plan:
    """One profile's rows and masks, ready for the batch product."""

    profile: Profile
    positive: list[int]
    negative: list[int]
    skip: set[int]

    @property
    def special(self) -> bool:
        """Whether more than the topic rows decide (categories, authors, liked …)."""
        p = self.profile
        liked = bool(p.liked)
        return bool(p.categories or p.authors or p.exclude or self.negative or self.skip or liked)


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
    compiled = Compiled(index)
    plans = [_plan(compiled, p, skip[i] if skip else ()) for i, p in enumerate(profiles)]
    queries = compiled.matrix()
    results: list[list[Pick]] = []
    for start in range(0, len(plans), BATCH_SIZE):
        batch = plans[start : start + BATCH_SIZE]
        results.extend(_rank_batch(compiled, queries, batch, max(max_items, 1)))
    return results


def _plan(compiled: Compiled, profile: Profile, skip: Collection[str]) -> _Plan:
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
    compiled: Compiled, queries: sparse.csr_matrix, batch: list[_Plan], max_items: int
) -> list[list[Pick]]:
    """Score a batch with one sparse product, cut off and take each profile's top rows."""
    index = compiled.index
    blank = queries.shape[0] - 1
    flat = [r for plan in batch for r in (plan.positive or [blank])]
    offsets = np.cumsum([0] + [len(plan.positive or [blank]) for plan in batch])[:-1]
    distinct, inverse = np.unique(np.array(flat, dtype=np.int64), return_inverse=True)
    scores = _scores(compiled, queries, distinct)
    per_row = scores[inverse]
    relevance = np.maximum.reduceat(per_row, offsets, axis=0)
    admitted, floor = _admitted(compiled, batch, relevance, per_row, flat, offsets)
    forced: list[dict[int, str]] = [{} for _ in batch]
    for i, plan in enumerate(batch):
        if plan.special:
            forced[i] = _apply_special(compiled, queries, plan, relevance, i)
    eligible = admitted & (relevance >= floor[:, None])
    final = relevance * (1 + TREND_WEIGHT * index.trend)
    for i, authors in enumerate(forced):
        if authors:
            columns = list(authors)
            eligible[i, columns] = True
            final[i, columns] += AUTHOR_SCORE
    final[~eligible] = -np.inf
    ranked = _top_rows(final, max_items * 2 + 4)
    picks = []
    for i, plan in enumerate(batch):
        rows = per_row[offsets[i] : offsets[i] + len(plan.positive)]
        chosen = _distinct(index, ranked[i], final[i], max_items, forced[i].keys())
        chosen = _keep_each_topic(index, rows, eligible[i], chosen, max_items)
        picks.append(_picks(compiled, plan, rows, forced[i], chosen, final[i]))
    return picks


def _scores(compiled: Compiled, queries: sparse.csr_matrix, distinct: np.ndarray) -> np.ndarray:
    """Scores of the `distinct` query rows; topic rows spread to the day's neighbours of
    their best matches (a liked paper is already a whole field's worth of words), and
    liked papers gain their similarity in meaning when the index has embeddings."""
    scores: np.ndarray = (queries[distinct] @ compiled.index.papers_by_term).toarray()
    topics = compiled.topic_mask()[distinct]
    embeddings = compiled.index.embeddings
    if embeddings is not None and not topics.all():
        vectors = compiled.paper_vectors(distinct[~topics])
        scores[~topics] += similarity_bonus(vectors, embeddings)
    if topics.all():
        return spread(scores, compiled.neighbours)
    if topics.any():
        scores[topics] = spread(scores[topics], compiled.neighbours)
    return scores


def _apply_special(
    compiled: Compiled,
    queries: sparse.csr_matrix,
    plan: _Plan,
    relevance: np.ndarray,
    i: int,
) -> dict[int, str]:
    """Categories, dislikes, exclusions and skips for row `i`; returns the followed
    authors' papers (row -> name as printed), which go in whatever their score."""
    index, profile = compiled.index, plan.profile
    relevance[i] = _adjusted(compiled, queries, plan, relevance[i])
    authors = _followed_papers(index, profile.authors)
    barred = _excluded(compiled, profile.exclude) - authors.keys() | plan.skip
    if barred:
        relevance[i, list(barred)] = -np.inf
    return {row: name for row, name in authors.items() if row not in plan.skip}


def _top_rows(final: np.ndarray, wanted: int) -> np.ndarray:
    """Per row, the column indices of the `wanted` best values, best first (ties: lower
    column first, so results never depend on the batch)."""
    wanted = min(wanted, final.shape[1])
    candidates = np.argpartition(-final, wanted - 1, axis=1)[:, :wanted]
    values = np.take_along_axis(final, candidates, axis=1)
    order = np.lexsort((candidates, -values), axis=1)
    return np.take_along_axis(candidates, order, axis=1)


def _distinct(
    index: PaperIndex,
    ranked: np.ndarray,
    final: np.ndarray,
    max_items: int,
    followed: Collection[int] = (),
) -> list[int]:
    """The ranked rows that are in, skipping near-duplicates of rows already taken
    (a followed author's paper is never skipped: it always goes in)."""
    chosen: list[int] = []
    groups: set[int] = set()
    for row in ranked.tolist():
        if final[row] == -np.inf:
            break
        group = int(index.duplicate_of[row])
        if group not in groups or row in followed:
            chosen.append(row)
            groups.add(group)
            if len(chosen) == max_items:
                break
    return chosen


def _admitted(
    compiled: Compiled,
    batch: list[_Plan],
    relevance: np.ndarray,
    per_row: np.ndarray,
    flat: list[int],
    offsets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The adaptive cut-off, on the scores before categories, dislikes and exclusions.

    A topic admits a paper that reaches `MIN_RELEVANCE` and `RELATIVE_CUTOFF` times the
    profile's best topic match of the day (over all papers, so excluding a paper never
    lowers the bar); a liked paper admits those that reach `LIKED_MIN_RELEVANCE` (its
    scores spread less, so a lower floor fits it). Returns the admitted papers and, per
    profile, the floor its final relevance must still reach.
    """
    is_topic = compiled.topic_mask()[flat]
    topic_best = np.maximum.reduceat(np.where(is_topic, per_row.max(axis=1), 0.0), offsets)
    bar = np.maximum(MIN_RELEVANCE, RELATIVE_CUTOFF * topic_best)
    admitted = relevance >= bar[:, None]
    floor = np.full(len(batch), MIN_RELEVANCE)
    for i, plan in enumerate(batch):
        if not plan.positive:  # categories alone: the floor decides
            admitted[i] = True
        elif plan.profile.liked:
            span = slice(offsets[i], offsets[i] + len(plan.positive))
            cut = np.where(is_topic[span], bar[i], LIKED_MIN_RELEVANCE)
            admitted[i] = (per_row[span] >= cut[:, None]).any(axis=0)
            floor[i] = LIKED_MIN_RELEVANCE
    return admitted, floor


def _adjusted(
    compiled: Compiled, queries: sparse.csr_matrix, plan: _Plan, relevance: np.ndarray
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
        relevance = relevance - DISLIKE_WEIGHT * np.minimum(against, 1.0)
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


def _excluded(compiled: Compiled, phrases: Sequence[str]) -> set[int]:
    """Papers with an excluded phrase, and their near-duplicates (the same paper again)."""
    rows: set[int] = set()
    for phrase in phrases:
        if phrase.strip():
            rows.update(compiled.excluded_papers(phrase.strip()).tolist())
    if not rows:
        return rows
    groups = compiled.index.duplicate_of
    return set(np.flatnonzero(np.isin(groups, groups[list(rows)])).tolist())


def _keep_each_topic(
    index: PaperIndex, rows: np.ndarray, eligible: np.ndarray, chosen: list[int], max_items: int
) -> list[int]:
    """When the list is full, give the last places to topics that have none in it."""
    if len(rows) < 2 or len(chosen) < max_items:
        return chosen
    masked = np.where(eligible, rows, -np.inf)
    tops = masked.argmax(axis=1).tolist()
    slot = len(chosen) - 1
    for topic, best in enumerate(tops):
        if masked[topic, best] < MIN_RELEVANCE or slot < 1:
            continue
        if any(rows[topic, r] >= MIN_RELEVANCE for r in chosen):
            continue
        if int(index.duplicate_of[best]) not in {int(index.duplicate_of[r]) for r in chosen}:
            chosen = [*chosen[:slot], best, *chosen[slot + 1 :]]
            slot -= 1
    return chosen


def _picks(
    compiled: Compiled,
    plan: _Plan,
    rows: np.ndarray,
    authors: dict[int, str],
    chosen: list[int],
    final: np.ndarray,
) -> list[Pick]:
    """The chosen papers as picks with their reasons, best first."""
    if not chosen:
        return []
    best = rows[:, chosen].argmax(axis=0).tolist() if len(plan.positive) else [-1] * len(chosen)
    special = plan.special
    scores = final[chosen].tolist()
    picks = []
    for paper, top, score in zip(chosen, best, scores, strict=True):
        best_row = plan.positive[top] if top >= 0 else -1
        key = (best_row, paper)
        cached = None if special else compiled.picks.get(key)
        if cached is None:
            cached = _pick(compiled, plan, rows, authors, best_row, paper, score)
            if not special:
                compiled.picks[key] = cached
        picks.append(cached)
    return picks


def _pick(
    compiled: Compiled,
    plan: _Plan,
    rows: np.ndarray,
    authors: dict[int, str],
    best_row: int,
    paper: int,
    score: float,
) -> Pick:
    """One pick with its reason (shared between profiles whose reason cannot differ)."""
    index, profile = compiled.index, plan.profile
    parts: list[str] = []
    topic = None
    if paper in authors:
        parts.append(explain_author(authors[paper]))
    if best_row >= 0 and (paper not in authors or rows[:, paper].max() >= MIN_RELEVANCE):
        row = compiled.rows[best_row]
        parts.append(explain_match(index, row, paper))
        topic = row.label if row.kind == "topic" else None
    parts.extend(explain_signals(index, paper, profile.categories))
    return Pick(
        paper=index.papers[paper], score=round(score, 4), reason=join_reason(parts), topic=topic
    )
