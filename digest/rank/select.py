"""Score every profile against a day's index in batches, and decide what goes in.

`rank_profiles` is the entry point. It compiles each distinct topic (and liked or
disliked paper) of the run once into a sparse query row, scores each row once by
multiplying the stacked rows by the index's term matrix (SciPy), and then ranks the
profiles in batches of as many rows each: per profile the best row for each paper (so
every topic counts, not only the loudest), and then, with NumPy:

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

Which papers go in, and in what order, is decided for a whole batch at once (`choose`);
profiles for which more than their topics decides (categories, authors, liked …) take
their own steps one by one. Every profile is scored on its own: its picks never depend
on the other profiles of the run, nor on how the run is batched.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from digest.rank.choose import MAX_PROFILES, best_first, considered
from digest.rank.compiled import Compiled
from digest.rank.dense import similarity_bonus
from digest.rank.explain import explain_author, explain_signals, join_reason
from digest.rank.index import PaperIndex, build_index
from digest.rank.neighbours import spread
from digest.rank.text import names_match, normalise_name
from digest.rank.vectors import Vectors
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
MAX_SCORE_CELLS = 1 << 25  # query rows x papers scored once for a whole run (128 MB)
MAX_TOPICS = 50


@dataclass(slots=True)
class _Plan:
    """A profile for which more than its topics decides (categories, authors, liked …):
    its rows and masks, ready for the batch product."""

    profile: Profile
    positive: list[int]
    negative: list[int]
    skip: set[int]


@dataclass
class _Plans:
    """The query rows of every profile of a run, one profile after the other, and the
    plans of the profiles for which more than their topics decides."""

    rows: np.ndarray
    counts: np.ndarray  # per profile, how many of `rows` are its
    starts: np.ndarray  # per profile, where its rows begin
    special: dict[int, _Plan]  # profile position -> its plan


@dataclass
class _Batch:
    """Profiles with as many query rows each, scored together."""

    topics: np.ndarray  # profiles x rows: their query rows (the blank row if they have none)
    matched: bool  # whether the profiles have rows at all
    scored: _Scored  # of their query rows
    local: np.ndarray  # profiles x rows: where each query row is in `scored`
    special: dict[int, _Plan]  # position in the batch -> plan


def rank_papers(papers: Sequence[Paper], profile: Profile, *, max_items: int = 10) -> list[Pick]:
    """Rank one day's papers for one profile (indexes them first)."""
    return rank_profiles(build_index(papers), [profile], max_items=max_items)[0]


def rank_profiles(
    index: PaperIndex,
    profiles: Sequence[Profile],
    *,
    max_items: int = 10,
    skip: Sequence[Collection[str]] | None = None,
    vectors: Vectors | None = None,
) -> list[list[Pick]]:
    """The digest picks of each profile, best first, in the order of `profiles`.

    `skip[i]` holds paper ids profile i must not get (for instance, already sent).
    Profiles are ranked in batches of as many query rows each; every profile is scored on
    its own, so how profiles are batched never changes a result.
    """
    if skip is not None and len(skip) != len(profiles):
        raise ValueError("skip must have one entry per profile")
    if not len(index) or not profiles:
        return [[] for _ in profiles]
    compiled = Compiled(index)
    plans = _plan_all(compiled, profiles, skip)
    table = _ScoreTable(compiled)
    order: list[np.ndarray] = []
    picks: list[list[Pick]] = []
    for members in _batches(plans.counts, min(BATCH_SIZE, MAX_PROFILES)):
        batch = _batch(table, plans, members)
        picks.extend(_rank_batch(compiled, table.queries, batch, max(max_items, 1)))
        order.append(members)
    return [picks[i] for i in np.argsort(np.concatenate(order)).tolist()]


def _plan_all(
    compiled: Compiled, profiles: Sequence[Profile], skip: Sequence[Collection[str]] | None
) -> _Plans:
    """The query rows of every profile, and the plans of those that ask for more."""
    rows: list[int] = []
    counts: list[int] = []
    special: dict[int, _Plan] = {}
    for i, p in enumerate(profiles):
        positive = compiled.topic_rows(p.topics, MAX_TOPICS)
        if p.liked or p.disliked or p.categories or p.authors or p.exclude or (skip and skip[i]):
            plan = _plan(compiled, p, positive, skip[i] if skip else ())
            if plan is not None:
                special[i] = plan
                positive = plan.positive
        rows.extend(positive)
        counts.append(len(positive))
    sizes = np.array(counts, dtype=np.int64)
    return _Plans(np.array(rows, dtype=np.int64), sizes, np.cumsum(sizes) - sizes, special)


def _plan(
    compiled: Compiled, profile: Profile, topics: list[int], skip: Collection[str]
) -> _Plan | None:
    """The plan of a profile that asks for more than topics, None when only its topic
    rows decide after all (its disliked papers or papers to skip are not of the day)."""
    p = profile
    liked = [
        compiled.paper(paper, "library" if paper.id in p.library else "liked") for paper in p.liked
    ]
    negative = [compiled.paper(paper, "disliked") for paper in p.disliked]
    negative = [r for r in negative if not compiled.rows[r].empty]
    position = compiled.index.position
    skipped = {position[i] for i in skip if i in position}
    if not (p.categories or p.authors or p.exclude or negative or skipped or p.liked):
        return None
    positive = topics + [r for r in liked if not compiled.rows[r].empty]
    return _Plan(profile, positive, negative, skipped)


def _batches(counts: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """Positions of profiles, `size` at a time, each batch of profiles with the same
    number of query rows (so that their rows stack as one array)."""
    order = np.argsort(counts, kind="stable")
    bounds = np.flatnonzero(np.diff(counts[order])) + 1
    for members in np.split(order, bounds):
        for start in range(0, len(members), size):
            yield members[start : start + size]


def _batch(table: _ScoreTable, plans: _Plans, members: np.ndarray) -> _Batch:
    """The profiles at `members` (with as many query rows each), ready to rank."""
    width = int(plans.counts[members[0]])
    if width:
        topics = plans.rows[plans.starts[members][:, None] + np.arange(width)]
    else:
        topics = np.full((len(members), 1), table.blank, dtype=np.int64)
    scored, local = table.lookup(topics)
    where = members.tolist()
    special = {j: plans.special[i] for j, i in enumerate(where) if i in plans.special}
    return _Batch(topics, width > 0, scored, local, special)


@dataclass
class _Scored:
    """Scores of query rows against the day's papers, and per row its relevant papers
    (those it scores at least `MIN_RELEVANCE`), best first."""

    scores: np.ndarray  # rows x papers
    best: np.ndarray  # per row, its best score
    starts: np.ndarray  # per row, and one past the last, where its papers begin in `relevant`
    relevant: np.ndarray
    # Picks of profiles of topics alone, which depend only on the paper and the row that
    # matches it best: rows x papers, where that pick is in `picks` (-1: not made yet).
    shared: np.ndarray | None = None
    picks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    nth: dict[int, np.ndarray] = field(default_factory=dict)  # n -> per row, its n-th best

    def nth_best(self, n: int) -> np.ndarray:
        """Per row, its `n`-th best score."""
        if n not in self.nth:
            self.nth[n] = -np.partition(-self.scores, n - 1, axis=1)[:, n - 1]
        return self.nth[n]

    @classmethod
    def of(cls, scores: np.ndarray) -> _Scored:
        row, paper = np.divmod(np.flatnonzero(scores >= MIN_RELEVANCE), scores.shape[1])
        order = np.lexsort((-scores[row, paper], row))  # stable: equals keep the lower paper
        starts = np.searchsorted(row, np.arange(len(scores) + 1))
        return cls(scores, scores.max(axis=1), starts, paper[order])

    def first_eligible(
        self, rows: np.ndarray, profiles: np.ndarray, eligible: np.ndarray
    ) -> np.ndarray:
        """For each (query row, profile) pair, the row's best paper of those `eligible`
        for the profile (the lowest of equals) when the row finds it relevant, else -1."""
        sizes = self.starts[rows + 1] - self.starts[rows]
        bounds = np.cumsum(sizes) - sizes
        at = np.repeat(self.starts[rows] - bounds, sizes) + np.arange(int(sizes.sum()))
        papers = self.relevant[at]
        hits = np.flatnonzero(eligible[np.repeat(profiles, sizes), papers])
        pair = np.repeat(np.arange(len(rows)), sizes)[hits]
        first = np.ones(len(hits), dtype=bool)
        first[1:] = pair[1:] != pair[:-1]
        best = np.full(len(rows), -1, dtype=np.int64)
        best[pair[first]] = papers[hits[first]]
        return best


class _ScoreTable:
    """Scores of the run's query rows against the day's papers (`_scores`): each row
    computed once for the whole run when all rows fit in `MAX_SCORE_CELLS`, else the
    rows of each batch as it comes."""

    def __init__(self, compiled: Compiled) -> None:
        self.compiled = compiled
        self.queries = compiled.matrix()
        self.blank = self.queries.shape[0] - 1  # the all-zero row
        self.every: _Scored | None = None
        if self.queries.shape[0] * len(compiled.index) <= MAX_SCORE_CELLS:
            self.every = self._compute(np.arange(self.queries.shape[0]))

    def lookup(self, rows: np.ndarray) -> tuple[_Scored, np.ndarray]:
        """For query `rows` (any shape): their scores, and in the shape of `rows` where
        each row is in them."""
        if self.every is not None:
            return self.every, rows
        distinct, inverse = np.unique(rows, return_inverse=True)
        return self._compute(distinct), inverse.reshape(rows.shape)

    def _compute(self, rows: np.ndarray) -> _Scored:
        scores = np.empty((len(rows), len(self.compiled.index)), dtype=np.float32)
        for start in range(0, len(rows), BATCH_SIZE):
            part = rows[start : start + BATCH_SIZE]
            scores[start : start + len(part)] = _scores(self.compiled, self.queries, part)
        return _Scored.of(scores)


def _rank_batch(
    compiled: Compiled, queries: sparse.csr_matrix, batch: _Batch, max_items: int
) -> list[list[Pick]]:
    """Cut off and take each profile's best papers of a batch, as picks."""
    index, local, scores = compiled.index, batch.local, batch.scored.scores
    relevance = scores[local[:, 0]]
    for k in range(1, local.shape[1]):
        np.maximum(relevance, scores[local[:, k]], out=relevance)
    admitted, floor = _admitted(compiled, batch, relevance)
    forced = {
        i: _apply_special(compiled, queries, plan, relevance, i)
        for i, plan in batch.special.items()
    }
    eligible = admitted & (relevance >= floor[:, None])
    for i, authors in forced.items():
        if authors:
            eligible[i, list(authors)] = True
    factor = 1 + TREND_WEIGHT * index.trend
    followed = _followed_keys(forced, len(index))
    candidates = _candidates(relevance, factor, eligible, followed)
    sure = _sure(batch, considered(max_items, len(index)))
    chosen = best_first(index, candidates, sure, followed, max_items)
    if batch.matched and local.shape[1] >= 2:
        _keep_each_topic(index, batch, eligible, chosen, max_items)
    return _batch_picks(compiled, batch, relevance, factor, forced, chosen)


def _sure(batch: _Batch, wanted: int) -> np.ndarray:
    """Per profile, a final score that at least `wanted` of its eligible papers reach if
    any do. For a profile of topics alone, its rows' `wanted`-th best score: as many
    papers have a relevance, and a final score, at least that, and they are eligible when
    it passes the cut-off (else every eligible paper's score is above it). Nothing for
    the others."""
    sure = np.full(len(batch.local), -np.inf, dtype=np.float32)
    if batch.matched:
        sure = batch.scored.nth_best(wanted)[batch.local].max(axis=1)
        sure[list(batch.special)] = -np.inf
    return sure


def _candidates(
    relevance: np.ndarray, factor: np.ndarray, eligible: np.ndarray, followed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The eligible (profile, paper) pairs, ordered by profile then paper, with their
    final scores: relevance with the trending signals, and `AUTHOR_SCORE` more for a
    followed author's paper (`followed`: see `_followed_keys`)."""
    count = relevance.shape[1]
    profile, paper = np.divmod(np.flatnonzero(eligible), count)
    final = relevance[profile, paper] * factor[paper]
    if followed.size:
        final[np.isin(profile * count + paper, followed)] += AUTHOR_SCORE
    return profile, paper, final


def _followed_keys(forced: dict[int, dict[int, str]], count: int) -> np.ndarray:
    """`profile * count + paper` of each followed author's paper of the batch."""
    return np.array([i * count + p for i, a in forced.items() for p in a], dtype=np.int64)


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


def _admitted(
    compiled: Compiled, batch: _Batch, relevance: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The adaptive cut-off, on the scores before categories, dislikes and exclusions.

    A topic admits a paper that reaches `MIN_RELEVANCE` and `RELATIVE_CUTOFF` times the
    profile's best topic match of the day (over all papers, so excluding a paper never
    lowers the bar); a liked paper admits those that reach `LIKED_MIN_RELEVANCE` (its
    scores spread less, so a lower floor fits it). Returns the admitted papers and, per
    profile, the floor its final relevance must still reach.
    """
    is_topic = compiled.topic_mask()[batch.topics]
    topic_best = np.where(is_topic, batch.scored.best[batch.local], 0.0).max(axis=1)
    bar = np.maximum(MIN_RELEVANCE, RELATIVE_CUTOFF * topic_best)
    admitted = relevance >= bar[:, None]
    floor = np.full(len(relevance), MIN_RELEVANCE)
    if not batch.matched:  # categories alone: the floor decides
        admitted[:] = True
        return admitted, floor
    for i, plan in batch.special.items():
        if plan.profile.liked:
            cut = np.where(is_topic[i], bar[i], LIKED_MIN_RELEVANCE)
            admitted[i] = (batch.scored.scores[batch.local[i]] >= cut[:, None]).any(axis=0)
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
            rows.update(compiled.excluded_papers(phrase.strip()))
    return rows


def _keep_each_topic(
    index: PaperIndex,
    batch: _Batch,
    eligible: np.ndarray,
    chosen: tuple[np.ndarray, np.ndarray],
    max_items: int,
) -> None:
    """When a list is full, give its last places to topics that have none in it: topic
    by topic, a topic whose best eligible paper is relevant, and none of whose relevant
    papers is in, takes the last place not yet given (unless that paper is a
    near-duplicate of one in). For the whole batch at once: `chosen` holds (profile,
    paper) pairs, its papers are updated in place."""
    profile, paper = chosen
    scored, local = batch.scored, batch.local
    sizes = np.bincount(profile, minlength=len(local))
    full = np.flatnonzero(sizes == max_items)
    if not full.size or max_items < 2:
        return
    places = (np.cumsum(sizes) - sizes)[full, None] + np.arange(max_items)
    rows, papers = local[full], paper[places]
    width = rows.shape[1]
    best = scored.first_eligible(rows.ravel(), np.repeat(full, width), eligible)
    best = best.reshape(rows.shape)
    covered = (scored.scores[rows[:, :, None], papers[:, None, :]] >= MIN_RELEVANCE).any(axis=2)
    changed = np.flatnonzero(((best >= 0) & ~covered).any(axis=1))
    if not changed.size:
        return
    rows, papers, best = rows[changed], papers[changed], best[changed]
    slot = np.full(len(changed), max_items - 1)
    groups = index.duplicate_of
    for topic in range(width):
        top = best[:, topic]
        covered = (scored.scores[rows[:, topic, None], papers] >= MIN_RELEVANCE).any(axis=1)
        taken = (groups[papers] == groups[top][:, None]).any(axis=1)
        placed = np.flatnonzero((top >= 0) & (slot >= 1) & ~covered & ~taken)
        papers[placed, slot[placed]] = top[placed]
        slot[placed] -= 1
    paper[places[changed]] = papers


def _batch_picks(
    compiled: Compiled,
    batch: _Batch,
    relevance: np.ndarray,
    factor: np.ndarray,
    forced: dict[int, dict[int, str]],
    chosen: tuple[np.ndarray, np.ndarray],
) -> list[list[Pick]]:
    """The chosen (profile, paper) pairs of a batch as each profile's picks with their
    reasons, best first."""
    profile, paper = chosen
    sizes = np.bincount(profile, minlength=len(relevance))
    starts = (np.cumsum(sizes) - sizes).tolist()
    plain = np.ones(len(relevance), dtype=bool)
    plain[list(batch.special)] = False
    shared = _shared_picks(compiled, batch, relevance, factor, chosen, plain[profile])
    ends = np.cumsum(np.where(plain, sizes, 0)).tolist()
    picks = [shared[: ends[0]], *(shared[a:b] for a, b in itertools.pairwise(ends))]
    scores = batch.scored.scores
    for i, plan in batch.special.items():
        papers = paper[starts[i] : starts[i] + int(sizes[i])]
        if not papers.size:
            continue
        final = relevance[i, papers] * factor[papers]
        if forced[i]:
            final[[p in forced[i] for p in papers.tolist()]] += AUTHOR_SCORE
        rows = scores[batch.local[i, : len(plan.positive), None], papers]
        picks[i] = _picks(compiled, plan, rows, forced[i], papers.tolist(), final.tolist())
    return picks


def _shared_picks(
    compiled: Compiled,
    batch: _Batch,
    relevance: np.ndarray,
    factor: np.ndarray,
    chosen: tuple[np.ndarray, np.ndarray],
    members: np.ndarray,
) -> list[Pick]:
    """Picks of the chosen pairs at `members`, of profiles of topics alone: such a pick
    depends only on the paper and the topic row that matches it best, so each is built
    once and shared (see `_Scored.shared`)."""
    profile, paper = chosen[0][members], chosen[1][members]
    scored = batch.scored
    best = scored.scores[batch.local[profile], paper[:, None]].argmax(axis=1)
    row = batch.local[profile, best]
    if scored.shared is None:
        scored.shared = np.full(scored.scores.shape, -1, dtype=np.int32)
    missing = scored.shared[row, paper] < 0
    if missing.any():
        new, first = np.unique(row[missing] * len(factor) + paper[missing], return_index=True)
        at = np.flatnonzero(missing)[first]
        papers = paper[at]
        final = relevance[profile[at], papers] * factor[papers]
        rows = batch.topics[profile[at], best[at]] if batch.matched else np.full(len(at), -1)
        found = zip(papers.tolist(), final.tolist(), rows.tolist(), strict=True)
        built = np.empty(len(at), dtype=object)
        built[:] = [_pick(compiled, *pick) for pick in found]
        scored.shared.flat[new] = np.arange(len(scored.picks), len(scored.picks) + len(at))
        scored.picks = np.concatenate([scored.picks, built])
    picks: list[Pick] = scored.picks[scored.shared[row, paper]].tolist()
    return picks


def _picks(
    compiled: Compiled,
    plan: _Plan,
    rows: np.ndarray,
    authors: dict[int, str],
    chosen: list[int],
    scores: list[float],
) -> list[Pick]:
    """The chosen papers of a profile with more than topics as picks, best first; `rows`
    holds their scores by each of the profile's rows."""
    best = rows.argmax(axis=0).tolist() if len(plan.positive) else [-1] * len(chosen)
    categories = plan.profile.categories
    picks = []
    for j, (paper, top, score) in enumerate(zip(chosen, best, scores, strict=True)):
        best_row = plan.positive[top] if top >= 0 else -1
        if paper in authors and best_row >= 0 and rows[:, j].max() < MIN_RELEVANCE:
            best_row = -1  # in for its author alone
        picks.append(_pick(compiled, paper, score, best_row, categories, authors.get(paper)))
    return picks


def _pick(
    compiled: Compiled,
    paper: int,
    score: float,
    best_row: int,
    categories: tuple[str, ...] = (),
    author: str | None = None,
) -> Pick:
    """One pick with its reason: the followed `author`, the match of query row `best_row`
    (none when -1), and the trending signals."""
    index = compiled.index
    parts: list[str] = []
    topic = None
    if author is not None:
        parts.append(explain_author(author))
    if best_row >= 0:
        row = compiled.rows[best_row]
        parts.append(compiled.match_reason(best_row, paper))
        topic = row.label if row.kind == "topic" else None
    parts.extend(explain_signals(index, paper, categories))
    return Pick(
        paper=index.papers[paper], score=round(score, 4), reason=join_reason(parts), topic=topic
    )
