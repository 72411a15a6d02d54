"""What a subscriber gets: relevant papers first, reasons, and nothing unwanted."""

from __future__ import annotations

from digest.rank import build_index, rank_papers, rank_profiles
from digest.records import Paper, Pick, Profile


def ids(picks: list[Pick]) -> list[str]:
    return [p.paper.id for p in picks]


def test_topic_papers_come_first_with_a_reason(small_day: list[Paper]) -> None:
    picks = rank_papers(small_day, Profile(id="u", topics=("gaussian splatting",)))
    assert set(ids(picks)) == {"g1", "g2"}
    assert picks[0].reason.startswith("matches 'gaussian splatting' in the title")
    assert all(p.topic == "gaussian splatting" for p in picks)
    assert picks[0].score >= picks[1].score


def test_upvotes_show_in_the_reason(small_day: list[Paper]) -> None:
    picks = rank_papers(small_day, Profile(id="u", topics=("gaussian splatting",)))
    by_id = {p.paper.id: p for p in picks}
    assert "41 upvotes" in by_id["g2"].reason


def test_unrelated_topic_gives_an_empty_digest(small_day: list[Paper]) -> None:
    assert rank_papers(small_day, Profile(id="u", topics=("protein folding",))) == []


def test_each_topic_gets_its_best_paper(small_day: list[Paper]) -> None:
    profile = Profile(id="u", topics=("speculative decoding", "auctions", "tactile grasping"))
    assert {"s1", "m1", "r1"} <= set(ids(rank_papers(small_day, profile, max_items=3)))


def test_near_duplicates_are_sent_once(small_day: list[Paper]) -> None:
    picks = rank_papers(small_day, Profile(id="u", topics=("speculative decoding",)))
    assert len({"s1", "s2"} & set(ids(picks))) == 1


def test_acronyms_and_hyphens_match_their_long_forms(small_day: list[Paper]) -> None:
    index = build_index(small_day)
    acronym, hyphen, joined = rank_profiles(
        index,
        [
            Profile(id="1", topics=("LLM agents",)),
            Profile(id="2", topics=("tool-use",)),
            Profile(id="3", topics=("pretraining",)),
        ],
    )
    assert ids(acronym)[0] == "a1"
    assert ids(hyphen) == ["a1"]
    assert ids(joined) == ["p1"]


def test_followed_author_qualifies_without_a_topic_match(small_day: list[Paper]) -> None:
    profile = Profile(id="u", topics=("gaussian splatting",), authors=("Geoffrey Hinton",))
    picks = rank_papers(small_day, profile)
    assert "q1" in ids(picks)
    assert next(p for p in picks if p.paper.id == "q1").reason.startswith(
        "by Geoffrey E. Hinton, whom you follow"
    )


def test_exclusions_and_skips_remove_papers(small_day: list[Paper]) -> None:
    index = build_index(small_day)
    plain, excluded, skipped = rank_profiles(
        index,
        [
            Profile(id="1", topics=("gaussian splatting",)),
            Profile(id="2", topics=("gaussian splatting",), exclude=("dynamic scenes",)),
            Profile(id="3", topics=("gaussian splatting",)),
        ],
        skip=[(), (), ("g1",)],
    )
    assert set(ids(plain)) == {"g1", "g2"}
    assert ids(excluded) == ["g1"]
    assert ids(skipped) == ["g2"]


def test_categories_alone_select_their_papers(small_day: list[Paper]) -> None:
    picks = rank_papers(small_day, Profile(id="u", topics=(), categories=("cs.GT",)))
    assert ids(picks) == ["m1"]


def test_liked_paper_brings_similar_papers(small_day: list[Paper]) -> None:
    liked = Paper(
        id="old",
        title="Real-time Gaussian Splatting",
        abstract="Anisotropic Gaussians are splatted to render novel views of dynamic scenes.",
    )
    picks = rank_papers(small_day, Profile(id="u", topics=(), liked=(liked,)))
    assert ids(picks)[:2] in (["g2", "g1"], ["g1", "g2"])
    assert "which you liked" in picks[0].reason


def test_disliked_paper_pushes_similar_papers_down(small_day: list[Paper]) -> None:
    disliked = Paper(
        id="old",
        title="Dynamic Scenes from Video with Anisotropic Gaussians",
        abstract="Splatting anisotropic Gaussians reconstructs dynamic scenes from video.",
    )
    profile = Profile(id="u", topics=("gaussian splatting",), disliked=(disliked,))
    assert ids(rank_papers(small_day, profile)) == ["g1"]


def test_max_items_caps_the_digest(small_day: list[Paper]) -> None:
    profile = Profile(id="u", topics=("gaussian splatting", "speculative decoding", "auctions"))
    assert len(rank_papers(small_day, profile, max_items=2)) == 2


def test_many_profiles_in_batches_match_one_at_a_time(small_day: list[Paper]) -> None:
    index = build_index(small_day)
    topics = ["gaussian splatting", "auctions", "speculative decoding", "tool use", "robots"]
    profiles = [Profile(id=str(i), topics=(topics[i % 5], topics[(i * 3) % 5])) for i in range(60)]
    together = rank_profiles(index, profiles)
    alone = [rank_profiles(index, [p])[0] for p in profiles]
    assert together == alone


def test_a_reason_names_only_what_the_paper_says() -> None:
    day = [
        Paper(
            id="cot",
            title="Chain-of-Thought Prompting Elicits Reasoning in Large Language Models",
            abstract="Generating a chain of thought improves the reasoning of language models.",
        ),
        Paper(
            id="agents",
            title="Large Language Model Agents that Use Tools",
            abstract="Agents built on large language models call tools.",
        ),
        Paper(id="x", title="Graph Neural Networks for Molecules", abstract="Message passing."),
    ]
    picks = rank_papers(day, Profile(id="u", topics=("large language model agents",)))
    reasons = {p.paper.id: p.reason for p in picks}
    assert reasons["agents"] == "matches 'large language model agents' in the title"
    assert reasons["cot"] == (
        "partly matches 'large language model agents': 'large language model' in the title"
    )


def test_words_said_apart_are_not_claimed_as_the_phrase(small_day: list[Paper]) -> None:
    day = [
        *small_day,
        Paper(
            id="apart",
            title="Learned Codecs: Compression of Each Sensor Image",
            abstract="Streams of frames are stored in little space.",
        ),
    ]
    picks = rank_papers(day, Profile(id="u", topics=("learned image compression",)))
    reasons = {p.paper.id: p.reason for p in picks}
    assert reasons["apart"] == (
        "partly matches 'learned image compression': 'learned', 'image', 'compression' in the title"
    )
