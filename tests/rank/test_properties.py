"""Invariants that hold for any day and any profile (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.rank import build_index, rank_profiles
from digest.records import Paper, Profile

WORDS = [
    "gaussian", "splatting", "diffusion", "language", "models", "agents", "tool", "use",
    "auctions", "graph", "neural", "networks", "robot", "grasping", "quantum", "codes",
    "vision", "transformers", "speculative", "decoding", "LLM", "3D", "self-supervised",
]  # fmt: skip
NAMES = ["Ada Lovelace", "Bo Chen", "Chandra Rao", "Dana Ng", "Eve Adams"]
words = st.lists(st.sampled_from(WORDS), min_size=0, max_size=12).map(" ".join)
papers = st.lists(
    st.builds(
        lambda i, title, abstract, authors, upvotes: Paper(
            id=f"p{i}", title=title, abstract=abstract, authors=tuple(authors), upvotes=upvotes
        ),
        st.integers(0, 10**6),
        words,
        words,
        st.lists(st.sampled_from(NAMES), max_size=3),
        st.one_of(st.none(), st.integers(0, 500)),
    ),
    min_size=1,
    max_size=25,
    unique_by=lambda p: p.id,
)
topics = st.lists(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join), max_size=4
)
quick = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ranked_ids(day: list[Paper], profile: Profile, max_items: int = 10) -> list[str]:
    return [p.paper.id for p in rank_profiles(build_index(day), [profile], max_items=max_items)[0]]


@quick
@given(
    day=papers,
    wanted=topics,
    excluded=st.sampled_from(WORDS),
    before=st.lists(st.sampled_from(WORDS), max_size=2),
)
def test_adding_an_excluded_word_never_adds_a_paper(
    day: list[Paper], wanted: list[str], excluded: str, before: list[str]
) -> None:
    profile = Profile(id="u", topics=tuple(wanted), exclude=tuple(before))
    stricter = Profile(id="u", topics=tuple(wanted), exclude=(*before, excluded))
    assert set(ranked_ids(day, stricter, 25)) <= set(ranked_ids(day, profile, 25))


@quick
@given(day=papers, wanted=topics, followed=st.sampled_from(NAMES))
def test_a_followed_authors_paper_is_always_in(
    day: list[Paper], wanted: list[str], followed: str
) -> None:
    theirs = {p.id for p in day if followed in p.authors}
    profile = Profile(id="u", topics=tuple(wanted), authors=(followed,), exclude=("graph",))
    assert theirs <= set(ranked_ids(day, profile, max_items=len(day)))


@quick
@given(day=papers, wanted=topics)
def test_scores_are_deterministic_and_ordered(day: list[Paper], wanted: list[str]) -> None:
    profile = Profile(id="u", topics=tuple(wanted))
    first = rank_profiles(build_index(day), [profile])[0]
    second = rank_profiles(build_index(list(day)), [profile, profile])[1]
    assert first == second
    scores = [p.score for p in first]
    assert scores == sorted(scores, reverse=True) or len(wanted) > 1
    assert all(p.reason for p in first)
