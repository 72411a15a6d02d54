"""A profile's picks never depend on which profiles are ranked with it, nor on how the
run is cut into batches; and the batch-wide choice of papers is the one-profile choice."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.rank import PaperIndex, build_index, rank_profiles, select
from digest.rank.choose import best_first
from digest.records import Paper, Profile

SUBJECTS = [
    ("gaussian splatting", "novel view synthesis with 3D gaussians rendered in real time"),
    ("speculative decoding", "draft models propose tokens a large language model verifies"),
    ("tool use", "large language model agents call external tools and APIs"),
    ("auctions", "mechanism design for truthful auctions with budgets"),
    ("robot grasping", "tactile feedback improves robot grasps of unknown objects"),
    ("graph neural networks", "message passing on molecular graphs predicts properties"),
]


def day() -> list[Paper]:
    """Two papers per pair of subjects: one in cs.LG without upvotes (so following
    cs.LG alone gives equal scores), one in cs.AI with upvotes; a paper given twice (a
    near-duplicate), and papers by an author to follow."""
    papers = []
    for n, ((a, about_a), (b, about_b)) in enumerate(itertools.combinations(SUBJECTS, 2)):
        for k in range(2):
            papers.append(
                Paper(
                    id=f"p{n}-{k}",
                    title=f"{a.title()} meets {b} ({'study' if k else 'method'})",
                    abstract=f"We study {a}: {about_a}. Also {b}: {about_b}.",
                    authors=("Ada Lovelace",) if n % 7 == 0 else ("Bo Chen",),
                    categories=("cs.AI",) if k else ("cs.LG",),
                    upvotes=n * 3 if k else None,
                )
            )
    return [*papers, replace(papers[0], id="again")]


def profiles(papers: list[Paper]) -> list[Profile]:
    topics = [s for s, _ in SUBJECTS]
    found = []
    for i in range(40):
        chosen = tuple(topics[(i * k) % len(topics)] for k in range(1, i % 5 + 1))
        found.append(Profile(id=f"t{i}", topics=chosen))
    found += [
        Profile(id="cats", topics=(), categories=("cs.LG",)),
        Profile(id="cats+", topics=("auctions",), categories=("CS.AI ",)),
        Profile(id="author", topics=("tool use",), authors=("A. Lovelace",)),
        Profile(id="exclude", topics=("gaussian splatting", "tool use"), exclude=("auctions",)),
        Profile(id="liked", topics=(), liked=(papers[3],)),
        Profile(id="liked+", topics=("robot grasping",), liked=(papers[8],)),
        Profile(id="disliked", topics=("tool use",), disliked=(papers[5],)),
        Profile(id="blank", topics=("  ", "Mechanism  Design", "mechanism design", "proteins")),
        Profile(id="nothing", topics=()),
    ]
    return found


def skips(profiles: list[Profile], papers: list[Paper]) -> list[set[str]]:
    return [{papers[i % len(papers)].id} if i % 3 == 0 else set() for i in range(len(profiles))]


@pytest.mark.parametrize("max_items", [1, 2, 3, 10])
def test_together_alone_and_in_any_batches_agree(
    monkeypatch: pytest.MonkeyPatch, max_items: int
) -> None:
    papers = day()
    index = build_index(papers)
    wanted, skip = profiles(papers), skips(profiles(papers), papers)
    together = rank_profiles(index, wanted, max_items=max_items, skip=skip)
    assert any(together)
    alone = [
        rank_profiles(index, [p], max_items=max_items, skip=[s])[0]
        for p, s in zip(wanted, skip, strict=True)
    ]
    assert together == alone
    backwards = rank_profiles(index, wanted[::-1], max_items=max_items, skip=skip[::-1])
    assert together == backwards[::-1]
    monkeypatch.setattr(select, "BATCH_SIZE", 3)
    monkeypatch.setattr(select, "MAX_SCORE_CELLS", 0)  # rows scored batch by batch
    assert rank_profiles(index, wanted, max_items=max_items, skip=skip) == together


def test_runs_over_one_index_agree_with_runs_over_a_fresh_one() -> None:
    """Later runs reuse what earlier runs over the same index worked out (compiled
    topics, worded matches, excluded phrases) and get exactly what a fresh index gives."""
    papers = day()
    wanted, skip = profiles(papers), skips(profiles(papers), papers)
    warm = build_index(papers)
    for start in range(0, len(wanted), 7):
        rank_profiles(warm, wanted[start : start + 7], max_items=3, skip=skip[start : start + 7])
    assert warm.memo.topics
    assert warm.memo.reasons
    assert warm.memo.excluded
    for profile, seen in zip(wanted, skip, strict=True):
        fresh = rank_profiles(build_index(papers), [profile], max_items=3, skip=[seen])
        assert rank_profiles(warm, [profile], max_items=3, skip=[seen]) == fresh


def test_each_run_quotes_its_own_wording_of_a_topic() -> None:
    index = build_index(day())
    for wording in ("Tool Use", "tool use", "TOOL  use"):
        (picks,) = rank_profiles(index, [Profile(id="p", topics=(wording,))], max_items=2)
        label = " ".join(wording.split())
        assert picks
        assert all(f"'{label}'" in pick.reason for pick in picks)


def test_categories_alone_break_ties_the_same_way_in_any_batch() -> None:
    papers = day()
    index = build_index(papers)
    only = Profile(id="cats", topics=(), categories=("cs.LG",))
    picks = rank_profiles(index, [only] * 3 + profiles(papers), max_items=3)
    assert len({p.score for p in picks[0]}) == 1  # all tied
    assert picks[0] == picks[1] == picks[2] == rank_profiles(index, [only], max_items=3)[0]


def copies() -> PaperIndex:
    """A day of 60 papers that are 6 papers 10 times over (large near-duplicate groups)."""
    papers = [
        Paper(id=f"c{k}-{n}", title=title, abstract=about)
        for n, (title, about) in enumerate(SUBJECTS)
        for k in range(10)
    ]
    return build_index(papers)


COPIES = copies()
PAPERS = len(COPIES)
values = st.sampled_from([-np.inf, -np.inf, -np.inf, 0.25, 0.5, 0.75, 1.0, 2.5])
matrices = st.integers(1, 6).flatmap(
    lambda n: st.lists(st.lists(values, min_size=PAPERS, max_size=PAPERS), min_size=n, max_size=n)
)


def chosen_by_one(final: np.ndarray, followed: set[int], items: int) -> list[int]:
    """One profile's papers as ranking always chose them: a partition of the best
    `items * 2 + 4` scores, ordered best first (ties: lower paper), near-duplicates of a
    paper already in skipped unless followed."""
    groups = COPIES.duplicate_of
    wanted = min(items * 2 + 4, len(final))
    top = np.argpartition(-final[None, :], wanted - 1, axis=1)[0, :wanted]
    top = top[np.lexsort((top, -final[top]))]
    chosen: list[int] = []
    for paper in top.tolist():
        if final[paper] == -np.inf or len(chosen) == items:
            break
        if groups[paper] not in {groups[p] for p in chosen} or paper in followed:
            chosen.append(paper)
    return chosen


@settings(max_examples=200, deadline=None)
@given(
    scores=matrices,
    followed=st.sets(st.tuples(st.integers(0, 5), st.integers(0, PAPERS - 1)), max_size=8),
    items=st.integers(1, 12),
    cut=st.booleans(),
)
def test_batch_choice_is_the_one_profile_choice(
    scores: list[list[float]], followed: set[tuple[int, int]], items: int, cut: bool
) -> None:
    final = np.array(scores, dtype=np.float32)
    follow = {(i, p) for i, p in followed if i < len(final) and final[i, p] > -np.inf}
    profile, paper = np.divmod(np.flatnonzero(final > -np.inf), PAPERS)
    candidates = (profile, paper, final[profile, paper])
    wanted = min(items * 2 + 4, PAPERS)
    sure = np.full(len(final), -np.inf, dtype=np.float32)
    if cut:  # the least of the best `wanted` scores, where a profile has as many
        sure = -np.sort(-final, axis=1)[:, wanted - 1]
    keys = np.array([i * PAPERS + p for i, p in follow], dtype=np.int64)
    got_profile, got_paper = best_first(COPIES, candidates, sure, keys, items)
    for i, row in enumerate(final):
        expected = chosen_by_one(row, {p for j, p in follow if j == i}, items)
        assert got_paper[got_profile == i].tolist() == expected


def topic_slots_of_one(
    rows: np.ndarray, eligible: np.ndarray, chosen: list[int], items: int
) -> list[int]:
    """One profile's list after the last places went to topics that had none, as ranking
    always did it."""
    groups = COPIES.duplicate_of
    if len(rows) < 2 or len(chosen) < items:
        return chosen
    masked = np.where(eligible, rows, -np.inf)
    slot = len(chosen) - 1
    for topic, best in enumerate(masked.argmax(axis=1).tolist()):
        if masked[topic, best] < select.MIN_RELEVANCE or slot < 1:
            continue
        if any(rows[topic, r] >= select.MIN_RELEVANCE for r in chosen):
            continue
        if groups[best] not in {groups[r] for r in chosen}:
            chosen = [*chosen[:slot], best, *chosen[slot + 1 :]]
            slot -= 1
    return chosen


@settings(max_examples=200, deadline=None)
@given(
    scores=matrices,
    width=st.integers(2, 4),
    items=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_topic_slots_are_the_one_profile_rule(
    scores: list[list[float]], width: int, items: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    table = np.maximum(np.array(scores, dtype=np.float32), 0.0)
    local = rng.integers(0, len(table), size=(5, width))
    eligible = rng.random((5, PAPERS)) < 0.6
    lists = [
        rng.permutation(np.flatnonzero(row))[: items if rng.random() < 0.8 else 1].tolist()
        for row in eligible
    ]
    profile = np.repeat(np.arange(5), [len(chosen) for chosen in lists])
    paper = np.array([p for chosen in lists for p in chosen], dtype=np.int64)
    batch = select._Batch(local, True, select._Scored.of(table), local, {})
    select._keep_each_topic(COPIES, batch, eligible, (profile, paper), items)
    for i, chosen in enumerate(lists):
        expected = topic_slots_of_one(table[local[i]], eligible[i], chosen, items)
        assert paper[profile == i].tolist() == expected
