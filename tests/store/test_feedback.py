"""Feedback votes in the store: the latest vote wins, and ranking reads them per subscriber."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from digest.errors import NotFound, UsageError
from digest.records import FeedEntry
from digest.store.engine import transaction
from digest.store.feedback import (
    Votes,
    feedback_for,
    forget_votes,
    record_vote,
    vote_counts,
    vote_of,
)
from digest.store.library import like_from_library
from digest.store.papers import ingest_entries
from digest.store.schema import PaperRow
from digest.store.subscribers import SubscriberInput, upsert_subscriber

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def setup(engine: Engine, papers: int = 3) -> tuple[list[int], list[int]]:
    with transaction(engine) as session:
        subs = [
            upsert_subscriber(
                session,
                SubscriberInput(email=f"s{n}@example.org", topics=("t",)).validate(),
                default_timezone="UTC",
                default_send_at="07:00",
            )[0].id
            for n in range(2)
        ]
        entries = [FeedEntry(source="a", key=f"2603.{n:05d}", title=f"P{n}") for n in range(papers)]
        ingest_entries(session, entries, now=NOW)
        ids = list(session.scalars(select(PaperRow.id).order_by(PaperRow.key)))
    return subs, ids


def test_votes_are_read_back_per_subscriber_newest_first(engine: Engine) -> None:
    (ada, bob), (p0, p1, p2) = setup(engine)
    with transaction(engine) as session:
        record_vote(session, ada, p0, 1, now=NOW)
        record_vote(session, ada, p1, 1, now=NOW + timedelta(minutes=1))
        record_vote(session, ada, p2, -1, now=NOW)
        record_vote(session, bob, p2, 1, now=NOW)
        record_vote(session, bob, p2, -1, now=NOW + timedelta(minutes=5))  # changed mind
    with transaction(engine) as session:
        votes = feedback_for(session, [ada, bob, 999])
        assert vote_of(session, bob, p2) == -1
    assert [p.title for p in votes[ada].liked] == ["P1", "P0"]
    assert [p.title for p in votes[ada].disliked] == ["P2"]
    assert votes[bob] == Votes([], [votes[ada].disliked[0]])
    assert votes[999] == Votes()
    assert votes[ada].liked[0].db_id == p1


def test_withdrawing_and_the_cap(engine: Engine) -> None:
    (ada, _), ids = setup(engine, papers=5)
    with transaction(engine) as session:
        for n, paper in enumerate(ids):
            record_vote(session, ada, paper, 1, now=NOW + timedelta(minutes=n))
        record_vote(session, ada, ids[-1], 0)
    with transaction(engine) as session:
        liked = feedback_for(session, [ada], limit=3)[ada].liked
    assert [p.title for p in liked] == ["P3", "P2", "P1"]


def test_bad_votes_are_refused(engine: Engine) -> None:
    (ada, _), (p0, *_) = setup(engine)
    with transaction(engine) as session, pytest.raises(UsageError):
        record_vote(session, ada, p0, 5)
    with transaction(engine) as session, pytest.raises(NotFound):
        record_vote(session, ada, 123_456, 1)
    with transaction(engine) as session:
        assert feedback_for(session, []) == {}


def test_forgetting_votes_keeps_the_library_and_other_subscribers(engine: Engine) -> None:
    (ada, bob), (p0, p1, p2, p3) = setup(engine, papers=4)
    with transaction(engine) as session:
        like_from_library(session, ada, [p3], now=NOW)
        record_vote(session, ada, p0, 1, now=NOW)
        record_vote(session, ada, p1, -1, now=NOW)
        record_vote(session, ada, p2, -1, now=NOW)
        record_vote(session, ada, p3, 1, now=NOW)  # a 👍 on a library paper: still library
        record_vote(session, bob, p0, -1, now=NOW)
    with transaction(engine) as session:
        assert vote_counts(session, ada) == (1, 2)
        assert vote_counts(session, bob) == (0, 1)
        assert forget_votes(session, ada) == 3
    with transaction(engine) as session:
        assert vote_counts(session, ada) == (0, 0)
        assert forget_votes(session, ada) == 0  # nothing left to forget
        votes = feedback_for(session, [ada, bob])
    assert [p.title for p in votes[ada].liked] == ["P3"]
    assert votes[ada].library == {"2603.00003"}
    assert votes[ada].disliked == []
    assert [p.title for p in votes[bob].disliked] == ["P0"]
