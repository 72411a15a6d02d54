"""Odd profiles and odd papers give sensible results, never a crash."""

from __future__ import annotations

import pytest

from digest.rank import build_index, rank_papers, rank_profiles
from digest.records import Paper, Profile


@pytest.mark.parametrize(
    "topics",
    [
        (),
        ("",),
        ("   ",),
        ("the",),
        ("of the and",),
        ("!!! ???",),
        tuple(f"topic number {i}" for i in range(200)),
        ("gaussian splatting " * 60,),
        ("高斯泼溅",),
        ("диффузионные модели",),
    ],
    ids=[
        "none",
        "empty",
        "blank",
        "stop-word",
        "stop-words",
        "punctuation",
        "200",
        "1KB",
        "chinese",
        "cyrillic",
    ],
)
def test_odd_topics_give_few_or_no_papers(small_day: list[Paper], topics: tuple[str, ...]) -> None:
    picks = rank_papers(small_day, Profile(id="u", topics=topics))
    assert len(picks) <= 10
    if topics and topics[0].startswith("gaussian splatting"):
        assert {p.paper.id for p in picks} == {"g1", "g2"}
    elif not any("topic" in t for t in topics):
        assert picks == []


def test_non_latin_topic_matches_non_latin_paper() -> None:
    day = [
        Paper(id="zh", title="基于高斯泼溅的实时渲染", abstract="高斯泼溅 实时 渲染"),
        Paper(id="ru", title="Диффузионные модели языка", abstract="диффузионные модели"),
        Paper(id="en", title="Speculative decoding", abstract="Draft models."),
    ]
    picks = rank_papers(day, Profile(id="u", topics=("диффузионные модели",)))
    assert [p.paper.id for p in picks] == ["ru"]


def test_absurd_papers_are_indexed() -> None:
    day = [
        Paper(id="empty", title="", abstract=""),
        Paper(id="long", title="Gaussian splatting " * 500, abstract="splatting " * 200_000),
        Paper(id="short", title="Gaussian splatting for robot arms", abstract=""),
        Paper(id="symbols", title="∑∫∂ ⊗ →→→", abstract="$$\\mathbb{R}^n$$"),
    ]
    picks = rank_papers(day, Profile(id="u", topics=("gaussian splatting",)))
    assert {p.paper.id for p in picks} == {"long", "short"}


def test_empty_day_and_no_profiles() -> None:
    index = build_index([])
    assert rank_profiles(index, [Profile(id="u", topics=("x",))]) == [[]]
    assert rank_profiles(build_index([Paper(id="a", title="A")]), []) == []


def test_skip_must_match_the_profiles(small_day: list[Paper]) -> None:
    with pytest.raises(ValueError, match="one entry per profile"):
        rank_profiles(build_index(small_day), [Profile(id="u", topics=("x",))], skip=[])
