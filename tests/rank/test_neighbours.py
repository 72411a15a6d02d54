"""Relevance spread to the day's neighbours: a topic's field counts, not only its words."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from digest.rank import build_index, rank_papers
from digest.rank.neighbours import NEIGHBOURS, build_neighbours, spread
from digest.records import Paper, Profile
from tests.rank.conftest import paper

FILLER = [
    ("Graph Neural Networks for Molecules", "Message passing on molecular graphs."),
    ("Robot Grasping from Tactile Feedback", "Tactile sensing improves robot grasps."),
    ("Speculative Decoding with Draft Trees", "Draft models propose tokens verified in parallel."),
    ("Time Series Forecasting with State Space Models", "Long horizons need memory."),
    ("Quantum Error Correction with Surface Codes", "Surface codes protect logical qubits."),
    ("Vision Transformers at Scale", "Pretraining recipes for vision transformers."),
]


def game_day() -> list[Paper]:
    """Three papers that say "game theory", one that only shares their field's words
    (equilibria, bidders, welfare, congestion), and unrelated papers."""
    return [
        paper(
            "t1",
            "Game Theory of Congestion Pricing",
            "We use game theory to study Nash equilibria, welfare and bidders in congestion.",
        ),
        paper(
            "t2",
            "Learning Dynamics in Game Theory",
            "Game theory meets learning: regret, Nash equilibria, welfare of bidders.",
        ),
        paper(
            "t3",
            "Game Theory for Spectrum Sharing",
            "A game theory model of bidders: equilibria exist and welfare is near optimal.",
        ),
        paper(
            "n1",
            "Price of Anarchy in Congestion",
            "Nash equilibria of congestion with selfish bidders lose little welfare; "
            "equilibria are computed by regret learning.",
        ),
        *[paper(f"f{i}", title, abstract) for i, (title, abstract) in enumerate(FILLER)],
    ]


def test_a_paper_of_the_topics_field_comes_in_with_an_honest_reason() -> None:
    picks = rank_papers(game_day(), Profile(id="u", topics=("game theory",)))
    by_id = {p.paper.id: p for p in picks}
    assert {"t1", "t2", "t3", "n1"} == set(by_id)
    assert [p.paper.id for p in picks][-1] == "n1"
    assert by_id["n1"].reason == "close to today's papers on 'game theory'"
    assert by_id["t1"].reason.startswith("matches 'game theory' in the title")


def test_one_matching_paper_is_not_yet_a_field() -> None:
    day = [p for p in game_day() if p.id not in {"t2", "t3"}]
    picks = rank_papers(day, Profile(id="u", topics=("game theory",)))
    assert [p.paper.id for p in picks] == ["t1"]


def test_a_topic_nothing_matches_spreads_nowhere() -> None:
    assert rank_papers(game_day(), Profile(id="u", topics=("protein folding",))) == []


def test_neighbour_graph_is_symmetric_without_self_links() -> None:
    index = build_index(game_day())
    graph = index.neighbours.toarray()
    assert np.allclose(graph, graph.T)
    assert not graph.diagonal().any()
    assert graph[index.position["n1"], index.position["t1"]] > 0


def test_neighbour_graph_keeps_the_nearest_only() -> None:
    count = NEIGHBOURS + 30
    rows = np.arange(count)
    matrix = sparse.csr_matrix(
        (np.ones(2 * count), (np.repeat(rows, 2), np.stack([rows, rows + 1], 1).ravel())),
        shape=(count, count + 1),
    )
    graph = build_neighbours(matrix, np.ones(count + 1))
    assert graph.shape == (count, count)
    assert (np.diff(graph.indptr) <= 2 * NEIGHBOURS).all()


def test_spread_leaves_rows_without_strong_matches_alone() -> None:
    index = build_index(game_day())
    weak = np.full((1, len(index)), 0.1, dtype=np.float32)
    assert np.array_equal(spread(weak, index.neighbours), weak)
    assert spread(np.zeros((0, len(index)), dtype=np.float32), index.neighbours).shape == (
        0,
        len(index),
    )
