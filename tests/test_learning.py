"""What a subscriber's votes taught their ranking, read from a real database (SQLite and
PostgreSQL) with the real sentence model's vectors: the counts, the state, the titles."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from digest.pipeline.learning import Learning, what_was_learned
from digest.rank.embed import Embedder
from digest.store.engine import transaction
from digest.store.feedback import forget_votes
from digest.store.library import like_from_library
from digest.store.subscribers import subscriber_by_id
from tests.votes import NOW, PAPERS, UNEMBEDDED, add_reader, store_papers, vote


def learned(engine: Engine, subscriber_id: int, model_id: str, now: datetime = NOW) -> Learning:
    with transaction(engine) as session:
        sub = subscriber_by_id(session, subscriber_id)
    assert sub is not None
    return what_was_learned(engine, sub, model_id, now=now)


def test_from_two_votes_the_model_names_the_papers_it_favours(
    engine: Engine, embedder: Embedder
) -> None:
    ids = store_papers(engine, embedder)
    ada = add_reader(engine, "ada@example.org")
    vote(engine, ada, ids["2605.00001"], 1)
    first = learned(engine, ada, embedder.model_id)
    assert (first.votes, first.state, first.summary) == (1, "few", None)

    vote(engine, ada, ids["2605.00003"], -1)
    vote(engine, ada, ids["2605.00004"], -1)
    with transaction(engine) as session:  # library papers are not votes
        like_from_library(session, ada, [ids["2605.00005"]], now=NOW)
    found = learned(engine, ada, embedder.model_id)
    assert (found.liked, found.disliked, found.readable, found.state) == (1, 2, 3, "learned")
    assert found.summary is not None
    assert [p.title for p in found.summary.more_like] == [PAPERS["2605.00001"][0]]
    assert {p.title for p in found.summary.less_like} == {
        PAPERS["2605.00003"][0],
        PAPERS["2605.00004"][0],
    }

    # Days later, with no fetch since, the centre is still the latest papers'.
    later = learned(engine, ada, embedder.model_id, now=NOW + timedelta(days=30))
    assert later.summary == found.summary

    with transaction(engine) as session:
        assert forget_votes(session, ada) == 3
    reset = learned(engine, ada, embedder.model_id)
    assert (reset.votes, reset.state, reset.summary) == (0, "few", None)


def test_votes_the_model_cannot_read_yet(engine: Engine, embedder: Embedder) -> None:
    ids = store_papers(engine, embedder)
    ada = add_reader(engine, "ada@example.org")
    vote(engine, ada, ids["2605.00001"], 1)
    vote(engine, ada, ids[UNEMBEDDED], -1)
    found = learned(engine, ada, embedder.model_id)
    assert (found.votes, found.readable, found.state, found.summary) == (2, 1, "unread", None)
    other_model = learned(engine, ada, "another-model:0000")  # vectors of another model
    assert (other_model.readable, other_model.state) == (0, "unread")


def test_without_topics_votes_stay_liked_and_disliked_papers(
    engine: Engine, embedder: Embedder
) -> None:
    ids = store_papers(engine, embedder)
    bob = add_reader(engine, "bob@example.org", topics=())
    for key, value in (("2605.00001", 1), ("2605.00002", 1), ("2605.00003", -1)):
        vote(engine, bob, ids[key], value)
    found = learned(engine, bob, embedder.model_id)
    assert (found.votes, found.readable, found.state, found.summary) == (3, 3, "no-topics", None)
