"""What counts as an update on a liked paper, and when it counts as told (both back ends)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine

from digest.records import FeedEntry
from digest.store.engine import transaction
from digest.store.feedback import record_vote
from digest.store.papers import ingest_entries
from digest.store.schema import DeliveryRow, PaperRow
from digest.store.subscribers import SubscriberInput, upsert_subscriber
from digest.store.updates import record_notices, updates_for

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAY = date(2026, 6, 2)


def entry(key: str, **signals: object) -> FeedEntry:
    return FeedEntry(source="test", key=key, title=f"Paper {key}", arxiv_id=key, **signals)  # type: ignore[arg-type]


def setup(engine: Engine, *entries: FeedEntry) -> tuple[int, dict[str, int]]:
    with transaction(engine) as session:
        sub, _ = upsert_subscriber(
            session,
            SubscriberInput(email="ada@example.org", status="active").validate(),
            default_timezone="UTC",
            default_send_at="07:00",
        )
        ingest_entries(session, list(entries), now=NOW)
        ids = {row.key: row.id for row in session.query(PaperRow)}
        for paper_id in ids.values():
            record_vote(session, sub.id, paper_id, 1, now=NOW)
    return sub.id, ids


def later(engine: Engine, *entries: FeedEntry, hours: int = 1) -> None:
    with transaction(engine) as session:
        ingest_entries(session, list(entries), now=NOW + timedelta(hours=hours))


def news(engine: Engine, sid: int, day: date = DAY) -> list[tuple[str, object, object, object]]:
    with transaction(engine) as session:
        found = updates_for(session, [(sid, day)])[sid]
    return [(u.paper.id, u.code_url, u.version, u.upvotes) for u in found]


def deliver(engine: Engine, sid: int, day: date, status: str) -> None:
    with transaction(engine) as session:
        for update in updates_for(session, [(sid, day)])[sid]:
            record_notices(session, sid, day, [update], now=NOW)
        session.add(
            DeliveryRow(
                subscriber_id=sid,
                digest_date=day,
                status=status,
                created_at=NOW,
                updated_at=NOW,
            )
        )


def test_what_changed_since_the_like_is_news(engine: Engine) -> None:
    sid, _ = setup(
        engine,
        entry("2601.00001", version=1),
        entry("2601.00002", code_url="https://github.com/a/b"),
        entry("2601.00003", upvotes=10),
    )
    assert news(engine, sid) == []
    later(
        engine,
        entry("2601.00001", version=2),
        entry("2601.00002", code_url="https://github.com/a/c"),  # had code already
        entry("2601.00003", upvotes=29),  # +19: not yet a jump
    )
    assert news(engine, sid) == [("2601.00001", None, 2, None)]
    later(engine, entry("2601.00003", upvotes=30), hours=2)  # +20 and double
    assert news(engine, sid) == [
        ("2601.00003", None, None, 30),
        ("2601.00001", None, 2, None),
    ]


def test_each_update_is_told_once_and_a_failed_digest_tells_it_again(engine: Engine) -> None:
    sid, _ = setup(engine, entry("2601.00001", version=1, upvotes=0))
    later(engine, entry("2601.00001", version=2, upvotes=25))
    expected = [("2601.00001", None, 2, 25)]
    deliver(engine, sid, DAY, "failed")
    assert news(engine, sid, DAY + timedelta(days=1)) == expected  # never reached them
    deliver(engine, sid, DAY + timedelta(days=1), "sent")
    assert news(engine, sid, DAY + timedelta(days=1)) == expected  # that day's digest again
    assert news(engine, sid, DAY + timedelta(days=2)) == []  # told
    later(engine, entry("2601.00001", upvotes=45), hours=3)  # +20 but not double 25
    assert news(engine, sid, DAY + timedelta(days=2)) == []
    later(engine, entry("2601.00001", upvotes=50, code_url="https://github.com/x/y"), hours=4)
    assert news(engine, sid, DAY + timedelta(days=2)) == [
        ("2601.00001", "https://github.com/x/y", None, 50)
    ]


def test_at_most_three_lines_and_the_rest_wait(engine: Engine) -> None:
    keys = [f"2601.0000{n}" for n in range(1, 6)]
    sid, _ = setup(engine, *(entry(k, version=1) for k in keys))
    later(engine, *(entry(k, version=2) for k in keys))
    first = news(engine, sid)
    assert len(first) == 3
    deliver(engine, sid, DAY, "sent")
    rest = news(engine, sid, DAY + timedelta(days=1))
    assert sorted(k for k, *_ in first + rest) == keys


def test_a_disliked_paper_has_no_news(engine: Engine) -> None:
    sid, ids = setup(engine, entry("2601.00001", version=1))
    with transaction(engine) as session:
        record_vote(session, sid, ids["2601.00001"], -1, now=NOW)
    later(engine, entry("2601.00001", version=2))
    assert news(engine, sid) == []
