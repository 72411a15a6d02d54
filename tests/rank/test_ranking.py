"""Ranking a small day with the real sentence model: what goes in, in what order, and why."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from digest.rank import Vectors, build_index, rank_profiles, weights
from digest.rank.embed import Embedder, paper_text
from digest.rank.explain import explain_topic, explain_words_only
from digest.rank.topics import compile_topic
from digest.rank.vectors import embed_run
from digest.records import Paper, Pick, Profile
from tests.corpus import CORPUS, listing_day

Rank = Callable[..., list[list[Pick]]]


@pytest.fixture
def rank(embedder: Embedder, small_day: list[Paper]) -> Rank:
    """Rank `small_day` (or given papers) for profiles, embedding as `digest rank` does."""

    def run(
        *profiles: Profile, papers: Sequence[Paper] | None = None, top: int = 10
    ) -> list[list[Pick]]:
        day = list(papers if papers is not None else small_day)
        vectors, extra = embed_run(embedder, day, profiles)
        index = build_index(day, vectors=vectors)
        return rank_profiles(index, profiles, max_items=top, vectors=extra)

    return run


def ids(picks: list[Pick]) -> list[str]:
    return [p.paper.id for p in picks]


def test_topic_papers_come_first_with_a_reason(rank: Rank) -> None:
    [picks] = rank(Profile("u", ("gaussian splatting",)))
    assert ids(picks)[:2] == ["g1", "g2"] or set(ids(picks)[:2]) == {"g1", "g2"}
    assert picks[0].reason.startswith("matches 'gaussian splatting' in the title")
    assert all(p.score >= 0.3 for p in picks)


def test_an_unrelated_topic_sends_nothing(rank: Rank) -> None:
    [picks] = rank(Profile("u", ("medieval french poetry",)))
    assert picks == []


def test_a_pick_by_meaning_says_so_and_quotes_only_what_matched(
    rank: Rank, small_day: list[Paper]
) -> None:
    day = [
        *small_day,
        Paper(
            "api1",
            "Language Models that Call External Tools",
            "Models learn when to invoke a calculator, a search engine and a calendar through "
            "API calls, improving zero-shot accuracy on arithmetic and question answering.",
        ),
    ]
    index = build_index(day)
    topic = compile_topic(index, "tool use")
    reason = explain_topic(index, topic, index.position["api1"])
    assert reason == "close in meaning to 'tool use'; 'Tools' in the title"
    assert explain_words_only(index, topic, index.position["api1"]) == (
        "partly matches 'tool use': 'Tools' in the title"
    )
    assert explain_topic(index, topic, index.position["a1"]) == "matches 'tool use' in the title"


def test_acronyms_match_their_long_forms(rank: Rank) -> None:
    [picks] = rank(Profile("u", ("large language model agents",)))
    assert ids(picks)[0] == "a1"
    assert picks[0].reason.startswith("matches 'large language model agents'")


def test_a_partial_match_names_only_the_words_that_matched(rank: Rank) -> None:
    [picks] = rank(Profile("u", ("speculative decoding for diffusion language models",)))
    for pick in picks:
        if not pick.reason.startswith("matches"):
            assert pick.reason.startswith("close in meaning to")
            quoted = pick.reason.split(";")[1] if ";" in pick.reason else ""
            for word in quoted.split("'")[1::2]:
                assert word.lower() in (pick.paper.title + " " + pick.paper.abstract).lower()


def test_a_followed_author_is_always_in(rank: Rank) -> None:
    [picks] = rank(Profile("u", ("gaussian splatting",), authors=("G. Hinton",)))
    assert "q1" in ids(picks)
    assert next(p.reason for p in picks if p.paper.id == "q1").startswith("by G. Hinton")


def test_exclusions_and_skips_remove_papers(
    rank: Rank, embedder: Embedder, small_day: list[Paper]
) -> None:
    [picks] = rank(Profile("u", ("gaussian splatting",), exclude=("dynamic scenes",)))
    assert "g2" not in ids(picks)
    assert "g1" in ids(picks)
    profile = Profile("u", ("gaussian splatting",))
    vectors, extra = embed_run(embedder, small_day, [profile])
    index = build_index(small_day, vectors=vectors)
    [skipped] = rank_profiles(index, [profile], skip=[{"g1"}], vectors=extra)
    assert "g1" not in ids(skipped)


def test_categories_alone_select_their_papers(rank: Rank) -> None:
    [picks] = rank(Profile("u", (), categories=("cs.GT",)))
    assert ids(picks) == ["m1"]
    assert "in cs.GT" in picks[0].reason


def test_a_liked_paper_brings_its_look_alikes(
    rank: Rank, small_day: list[Paper], shared_data: Path
) -> None:
    """On a day of real size (the liked-paper model reads how unusual a closeness is among
    the day's papers): the small day's papers among a real quiet day's 88."""
    day = small_day + [
        Paper(e.key, e.title, e.abstract, e.authors, e.categories)
        for e in listing_day(shared_data, date(2026, 5, 16))
    ]
    liked = Paper(
        "old1",
        "Real-time Radiance Field Rendering with 3D Gaussians",
        "Gaussian splatting represents scenes with anisotropic 3D Gaussians for novel view "
        "synthesis at real-time frame rates.",
    )
    [picks] = rank(Profile("u", (), liked=(liked,)), papers=day)
    assert set(ids(picks)[:2]) == {"g1", "g2"}
    assert "a paper you liked" in picks[0].reason
    [library] = rank(Profile("u", (), liked=(liked,), library=frozenset({"old1"})), papers=day)
    assert set(ids(library)[:2]) == {"g1", "g2"}
    assert "from your library" in library[0].reason


def test_a_disliked_paper_pushes_its_look_alikes_down(rank: Rank) -> None:
    [before] = rank(Profile("u", ("gaussian splatting",)))
    disliked = Paper("bad", "Gaussian Splats for Dynamic Scenes from Video", "Splatting.")
    [after] = rank(Profile("u", ("gaussian splatting",), disliked=(disliked,)))
    was = {p.paper.id: p.score for p in before}["g2"]
    assert {p.paper.id: p.score for p in after}.get("g2", 0.0) < was


def test_max_items_caps_the_digest(rank: Rank) -> None:
    [picks] = rank(Profile("u", ("gaussian splatting", "speculative decoding")), top=1)
    assert len(picks) == 1


def test_without_vectors_words_alone_rank_and_say_so(small_day: list[Paper]) -> None:
    [picks] = rank_profiles(build_index(small_day), [Profile("u", ("gaussian splatting",))])
    assert ids(picks)[0] in {"g1", "g2"}
    assert all("close in meaning" not in p.reason for p in picks)


def test_stored_vectors_are_used_as_given(embedder: Embedder, small_day: list[Paper]) -> None:
    """A topic's stored vector is its meaning: the same words with the vector of another
    subject score lower."""
    day_vectors = embedder.embed([paper_text(p.title, p.abstract) for p in small_day])
    index = build_index(small_day, vectors=day_vectors)
    topic = "quantum error correction"
    right, wrong = embedder.embed([topic, "medieval french poetry"])
    profile = Profile("u", (topic,))
    [good] = rank_profiles(index, [profile], vectors=Vectors(topics={topic: right}))
    [bad] = rank_profiles(index, [profile], vectors=Vectors(topics={topic: wrong}))
    assert ids(good)[:1] == ["q1"]
    assert {p.paper.id: p.score for p in bad}.get("q1", 0.0) < good[0].score


def test_an_index_scores_anew_under_other_constants(
    embedder: Embedder, small_day: list[Paper], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index keeps each topic's scores for later runs, but only under the constants that
    made them: a run under other constants (as the fitting script makes, fold after fold)
    scores as a fresh index does."""
    profile = Profile("u", ("quantum error correction",))
    vectors, extra = embed_run(embedder, small_day, [profile])
    index = build_index(small_day, vectors=vectors)
    [before] = rank_profiles(index, [profile], vectors=extra)
    other = replace(weights.WITH_MEANING, bias=weights.WITH_MEANING.bias + 2.0)
    monkeypatch.setattr(weights, "WITH_MEANING", other)
    [after] = rank_profiles(index, [profile], vectors=extra)
    [fresh] = rank_profiles(build_index(small_day, vectors=vectors), [profile], vectors=extra)
    assert [(p.paper.id, p.score) for p in after] == [(p.paper.id, p.score) for p in fresh]
    assert after[0].score > before[0].score


def test_a_paper_without_a_vector_is_ranked_by_its_words(
    embedder: Embedder, small_day: list[Paper]
) -> None:
    """A zero row (a paper not embedded yet) is judged by the words-only model, says so, and
    is left out of the day's statistics: the others keep the scores they have without it."""
    topic = "gaussian splatting"
    profile = Profile("u", (topic,))
    day_vectors = embedder.embed([paper_text(p.title, p.abstract) for p in small_day])
    topics = Vectors(topics={topic: embedder.embed([topic])[0]})
    missing = [p.id for p in small_day].index("g1")
    partial = day_vectors.copy()
    partial[missing] = 0.0
    [picks] = rank_profiles(build_index(small_day, vectors=partial), [profile], vectors=topics)
    [words] = rank_profiles(build_index(small_day), [profile])
    by_words = {p.paper.id: p for p in words}
    scored = {p.paper.id: p for p in picks}
    assert scored["g1"].score == by_words["g1"].score
    assert (
        scored["g1"].reason == by_words["g1"].reason == "matches 'gaussian splatting' in the title"
    )
    # The paper with a vector is scored by meaning, against the papers that have one.
    kept = [p for p in small_day if p.id != "g1"]
    kept_vectors = [v for p, v in zip(small_day, day_vectors, strict=True) if p.id != "g1"]
    index = build_index(kept, vectors=np.array(kept_vectors))
    [without] = rank_profiles(index, [profile], vectors=topics)
    # (the day's word statistics still count g1, hence "about")
    assert abs(scored["g2"].score - {p.paper.id: p for p in without}["g2"].score) < 0.05


@pytest.mark.parametrize(
    ("topic", "in_title"),
    [
        ("gaussian splatting", "gaussian splatting"),
        ("speech recognition", "speech recognition"),
        ("graph neural networks", "graph neural network"),
    ],
)
def test_a_day_crowded_with_the_topic_still_sends_what_is_plainly_on_it(
    embedder: Embedder,
    shared_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    topic: str,
    in_title: str,
) -> None:
    """A day of real papers that all have the topic in their title: none is unusually close
    to the topic among the others, yet every one goes in, because each pair is also judged
    on its own merits. In the day's context alone, most would fall under the bar."""
    day: list[Paper] = []
    with (shared_data / CORPUS).open(encoding="utf-8") as lines:
        for line in lines:  # the first 40 such papers of the corpus; most lines go unparsed
            row = json.loads(line) if in_title in line.lower() else None
            if row is not None and in_title in row["title"].lower():
                day.append(Paper(id=row["id"], title=row["title"], abstract=row["abstract"]))
                if len(day) == 40:
                    break
    assert len(day) >= 15
    profile = Profile("u", (topic,))
    vectors, extra = embed_run(embedder, day, [profile])

    def sent() -> int:
        index = build_index(day, vectors=vectors)
        return len(rank_profiles(index, [profile], max_items=len(day), vectors=extra)[0])

    assert sent() == len(day)
    monkeypatch.setattr(weights, "ON_ITS_OWN", replace(weights.ON_ITS_OWN, bias=-1e9))
    assert sent() < len(day) / 2
