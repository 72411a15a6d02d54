"""Learning from votes: the per-subscriber model, on the real sentence model's vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.rank import build_index, rank_profiles, weights
from digest.rank.embed import Embedder
from digest.rank.learned import fit_weights, learn, mean_vector, summarise
from digest.rank.vectors import embed_run
from digest.records import Paper, Pick, Profile

SPLATS = Paper(
    "old-splat",
    "Real-time Radiance Field Rendering with 3D Gaussians",
    "Gaussian splatting represents scenes with anisotropic 3D Gaussians for novel view "
    "synthesis at real-time frame rates.",
)
SPLATS_TOO = Paper(
    "old-splat-2",
    "Deformable 3D Gaussians for Dynamic Scene Reconstruction",
    "We splat deformable Gaussians to reconstruct dynamic scenes from monocular video.",
)
DRAFTS = Paper(
    "old-draft",
    "Faster LLM Inference with Speculative Draft Models",
    "A small draft model proposes tokens that a large language model verifies in parallel, "
    "speeding up decoding.",
)
TOPICS = ("gaussian splatting", "speculative decoding")


def run(embedder: Embedder, day: Sequence[Paper], *profiles: Profile) -> list[list[Pick]]:
    vectors, extra = embed_run(embedder, day, profiles)
    return rank_profiles(build_index(day, vectors=vectors), profiles, vectors=extra)


def scores(picks: list[Pick]) -> dict[str, float]:
    return {p.paper.id: p.score for p in picks}


def test_a_dislike_pushes_its_look_alikes_down_and_likes_pull_theirs_up(
    embedder: Embedder, small_day: list[Paper]
) -> None:
    plain = Profile("u", TOPICS)
    voted = Profile("u", TOPICS, liked=(SPLATS, SPLATS_TOO), disliked=(DRAFTS,))
    [before, after] = run(embedder, small_day, plain, voted)
    assert len(voted.liked) + len(voted.disliked) >= weights.LEARN_MIN_VOTES
    was, now = scores(before), scores(after)
    for look_alike in ("s1", "s2"):  # speculative decoding, like the disliked paper
        assert now.get(look_alike, 0.0) < was[look_alike]
    assert now["g1"] >= was["g1"]
    assert [p.paper.id for p in after][:2] in (["g1", "g2"], ["g2", "g1"])
    lifted = [p for p in after if p.paper.id in ("g1", "g2") and now[p.paper.id] > was[p.paper.id]]
    assert lifted
    assert all("a paper you liked" in p.reason for p in lifted)
    assert all(SPLATS.title[:40] in p.reason or SPLATS_TOO.title[:40] in p.reason for p in lifted)


def test_dislikes_alone_push_their_look_alikes_down_and_leave_the_rest(
    embedder: Embedder, small_day: list[Paper]
) -> None:
    """A reader who only ever votes 👎 teaches the model what to push down; nothing is
    vouched for, so no bar is raised: the papers unlike their 👎 do not lose."""
    proteins = Paper(
        "old-fold",
        "Protein Structure Prediction with Evolutionary Couplings",
        "We predict protein folds from multiple sequence alignments of homologous proteins.",
    )
    plain = Profile("u", TOPICS)
    voted = Profile("u", TOPICS, disliked=(DRAFTS, proteins))
    vectors, extra = embed_run(embedder, small_day, [voted])
    model = learn(voted, extra.papers, mean_vector(vectors))
    assert model is not None
    assert not model.liked.any()
    assert model.shift == 0.0
    [before, after] = run(embedder, small_day, plain, voted)
    was, now = scores(before), scores(after)
    assert now.get("s1", 0.0) < was["s1"]  # the 👎's look-alikes go down
    for unlike in ("g1", "g2"):  # splatting: like neither 👎
        assert now[unlike] >= was[unlike]
    with_like = Profile("u", TOPICS, liked=(SPLATS_TOO,), disliked=(DRAFTS,))
    found = embed_run(embedder, small_day, [with_like])[1].papers
    liked_model = learn(with_like, found, mean_vector(vectors))
    assert liked_model is not None
    assert liked_model.shift == weights.LEARN_SHIFT


def test_below_the_threshold_votes_act_as_liked_and_disliked_papers(
    embedder: Embedder, small_day: list[Paper]
) -> None:
    few = weights.LEARN_MIN_VOTES - 1
    assert few >= 1, "the threshold is at least two votes"
    votes = (DRAFTS,)[:few]
    vectors, extra = embed_run(embedder, small_day, [Profile("u", TOPICS, disliked=votes)])
    profile = Profile("u", TOPICS, disliked=votes)
    assert learn(profile, extra.papers, mean_vector(vectors)) is None
    [picks] = run(embedder, small_day, profile)
    [plain] = run(embedder, small_day, Profile("u", TOPICS))
    assert scores(picks).get("s1", 0.0) < scores(plain)["s1"]  # as a disliked paper does


def test_library_papers_are_not_votes(embedder: Embedder, small_day: list[Paper]) -> None:
    library = Profile(
        "u",
        (),
        liked=(SPLATS, SPLATS_TOO, DRAFTS),
        library=frozenset({SPLATS.id, SPLATS_TOO.id, DRAFTS.id}),
    )
    vectors, extra = embed_run(embedder, small_day, [library])
    assert learn(library, extra.papers, mean_vector(vectors)) is None
    [picks] = run(embedder, small_day, library)
    assert {"g1", "g2"} <= {p.paper.id for p in picks}
    assert all("from your library" in p.reason for p in picks)


def test_a_profile_without_topics_keeps_its_votes_as_liked_papers(
    embedder: Embedder, small_day: list[Paper]
) -> None:
    profile = Profile("u", (), liked=(SPLATS, SPLATS_TOO), disliked=(DRAFTS,))
    [picks] = run(embedder, small_day, profile)
    assert {p.paper.id for p in picks[:2]} == {"g1", "g2"}
    assert "a paper you liked" in picks[0].reason


def test_the_summary_names_likes_and_dislikes_in_their_place(
    embedder: Embedder, small_day: list[Paper]
) -> None:
    profile = Profile("u", TOPICS, liked=(SPLATS, SPLATS_TOO), disliked=(DRAFTS,))
    vectors, extra = embed_run(embedder, small_day, [profile])
    summary = summarise(learn(profile, extra.papers, mean_vector(vectors)))
    assert summary is not None
    assert summary.votes == 3
    assert {p.id for p in summary.more_like} == {SPLATS.id, SPLATS_TOO.id}
    assert [p.id for p in summary.less_like] == [DRAFTS.id]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=2, max_value=40),
    st.integers(min_value=0, max_value=10_000),
    st.floats(min_value=1e-3, max_value=10.0),
)
def test_every_like_pulls_up_and_every_dislike_pushes_down(
    count: int, seed: int, penalty: float
) -> None:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    liked = rng.random(count) < 0.6
    alpha = fit_weights(vectors - vectors.mean(axis=0), liked, penalty=penalty)
    assert np.all(np.isfinite(alpha))
    # αᵢ = (yᵢ − pᵢ) / penalty at the optimum; a vote the model already fits to the last
    # bit (pᵢ within 1e-22 of yᵢ, a tiny penalty and separable votes) pulls by ~0, either side.
    rounding = 1e-12
    assert np.all(alpha[liked] > -rounding)
    assert np.all(alpha[~liked] < rounding)


def test_a_huge_penalty_changes_nothing() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(30, 16))
    alpha = fit_weights(vectors, rng.random(30) < 0.5, penalty=1e9)
    assert float(np.abs(alpha).max()) < 1e-8


@pytest.mark.parametrize("count", [weights.LEARN_MIN_VOTES, 100])
def test_the_fit_settles(count: int) -> None:
    rng = np.random.default_rng(count)
    vectors = rng.normal(size=(count, 384))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    liked = np.arange(count) % 3 != 0
    centred = vectors - vectors.mean(axis=0)
    alpha = fit_weights(centred, liked, penalty=weights.LEARN_PENALTY)
    # At the optimum α = (y − p) / penalty: the stationarity condition of the fit.
    offset = np.log(weights.SEND_PROBABILITY / (1 - weights.SEND_PROBABILITY))
    chance = 1 / (1 + np.exp(-(offset + centred @ centred.T @ alpha)))
    assert np.allclose(alpha, (liked - chance) / weights.LEARN_PENALTY, atol=1e-6)
