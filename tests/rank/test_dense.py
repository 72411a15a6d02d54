"""The optional sentence model: offline, and only ever an addition to word matching."""

from __future__ import annotations

import numpy as np
import pytest

from digest.errors import ConfigError
from digest.rank import build_index, dense, rank_profiles
from digest.records import Paper, Profile
from tests.rank.conftest import paper

needs_model = pytest.mark.skipif(not dense.dense_available(), reason="the dense extra")


@pytest.fixture(scope="module")
def embedder() -> dense.Embedder:
    return dense.load_embedder(threads=1)


@needs_model
def test_vectors_are_unit_length_and_close_for_close_meanings(embedder: dense.Embedder) -> None:
    vectors = embedder.embed(
        [
            "Gaussian splatting renders novel views in real time",
            "Real-time novel view synthesis with 3D Gaussians",
            "Truthful auctions for budget-constrained bidders",
            "",
        ]
    )
    assert vectors.shape == (4, embedder.dimensions)
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    assert np.array_equal(embedder.embed(["same text"]), embedder.embed(["same text"]))


@needs_model
def test_a_liked_paper_finds_a_paper_that_says_it_in_other_words(
    embedder: dense.Embedder,
) -> None:
    liked = Paper(
        id="old",
        title="Sealed-bid auctions with budget limits",
        abstract="We design truthful auctions for bidders whose budgets are limited.",
    )
    day = [
        paper(
            "close",
            "Selling items to buyers who cannot pay everything they bid",
            "Mechanisms for buyers with spending caps that keep truth-telling optimal.",
        ),
        paper("far", "Robot Grasping from Tactile Feedback", "Tactile sensing improves grasps."),
        paper("far2", "Graph Neural Networks for Molecules", "Message passing on graphs."),
    ]
    profile = Profile(id="u", topics=(), liked=(liked,))
    words_only = rank_profiles(build_index(day), [profile])[0]
    with_meaning = rank_profiles(build_index(day, embedder=embedder), [profile])[0]
    assert [p.paper.id for p in with_meaning] == ["close"]
    assert [p.paper.id for p in words_only] in ([], ["close"])
    assert with_meaning[0].score > max([p.score for p in words_only], default=0.0) + 0.2
    assert with_meaning[0].reason.startswith("similar to 'Sealed-bid auctions")


@needs_model
def test_topics_rank_the_same_with_or_without_the_model(
    small_day: list[Paper], embedder: dense.Embedder
) -> None:
    profiles = [Profile(id="1", topics=("gaussian splatting", "auctions"))]
    plain = rank_profiles(build_index(small_day), profiles)
    dense_index = build_index(small_day, embedder=embedder)
    assert rank_profiles(dense_index, profiles) == plain


def test_without_the_extra_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dense, "MODEL_PACKAGE", "no_such_model_package")
    assert not dense.dense_available()
    with pytest.raises(ConfigError, match=r"paper-digest\[dense\]"):
        dense.load_embedder()
