"""The delivery ledger on SQLite and PostgreSQL: queueing, atomic claims, leases, recovery."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select

from digest.records import Item, Outcome
from digest.store.deliveries import (
    LEASE_SECONDS,
    claim_deliveries,
    decode_items,
    lease_owners,
    mark_sending,
    release,
    renew_leases,
    unmark_sending,
)
from digest.store.delivery_outcomes import record_outcomes, recover_interrupted
from digest.store.delivery_reads import ledger_entries, sent_paper_ids
from digest.store.engine import transaction
from digest.store.queueing import queue_due, send_groups
from digest.store.schema import DeliveryRow, PaperRow, SubscriberRow
from digest.store.subscribers import SubscriberInput, upsert_subscriber
from digest.store.suppressions import suppress

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
DAY = date(2026, 7, 1)


def add_subscribers(engine: Engine, count: int, *, status: str = "active") -> list[int]:
    with transaction(engine) as session:
        ids = []
        for n in range(count):
            sub, _ = upsert_subscriber(
                session,
                SubscriberInput(
                    email=f"user{n}@example.org", topics=("llm",), status=status
                ).validate(),
                default_timezone="UTC",
                default_send_at="07:00",
                now=NOW,
            )
            ids.append(sub.id)
        return ids


def stored_items(engine: Engine) -> dict[int, list[Item]]:
    """Each ledger row's items, as the row holds them."""
    with transaction(engine) as session:
        rows = session.execute(select(DeliveryRow.id, DeliveryRow.items)).all()
    return {delivery_id: decode_items(items) for delivery_id, items in rows}


def add_papers(engine: Engine, count: int) -> list[int]:
    with transaction(engine) as session:
        rows = [
            PaperRow(key=f"2607.{n:05d}", title=f"Paper {n}", first_seen_at=NOW, changed_at=NOW)
            for n in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def queue_all(engine: Engine) -> int:
    with transaction(engine) as session:
        return queue_due(session, {DAY: send_groups(session)}, now=NOW)


def claim(engine: Engine, worker: str, limit: int = 100, now: datetime = NOW) -> list[int]:
    with transaction(engine) as session:
        claims = claim_deliveries(
            session,
            worker_id=worker,
            now=now,
            lease_until=now + timedelta(minutes=10),
            limit=limit,
        )
        return [c.delivery_id for c in claims]


def test_queue_due_is_idempotent_and_skips_inactive_and_suppressed(engine: Engine) -> None:
    add_subscribers(engine, 5)
    with transaction(engine) as session:
        paused = session.scalar(
            select(SubscriberRow).where(SubscriberRow.email == "user1@example.org")
        )
        assert paused is not None
        paused.status = "paused"
        suppress(session, "user2@example.org", "550 no such user")
    assert queue_all(engine) == 3
    assert queue_all(engine) == 0
    with transaction(engine) as session:
        entries = ledger_entries(session)
    assert sorted(e.email for e in entries) == [
        "user0@example.org",
        "user3@example.org",
        "user4@example.org",
    ]
    assert {e.status for e in entries} == {"queued"}


def test_two_workers_never_claim_the_same_row(engine: Engine) -> None:
    add_subscribers(engine, 60)
    queue_all(engine)
    results: dict[str, list[int]] = {}

    def work(name: str) -> None:
        mine: list[int] = []
        while batch := claim(engine, name, limit=7):
            mine += batch
        results[name] = mine

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [i for ids in results.values() for i in ids]
    assert len(everything) == 60
    assert len(set(everything)) == 60


def test_an_expired_lease_returns_the_row_to_the_queue(engine: Engine) -> None:
    add_subscribers(engine, 3)
    queue_all(engine)
    first = claim(engine, "w1")
    assert len(first) == 3
    assert claim(engine, "w2") == []
    assert sorted(claim(engine, "w2", now=NOW + timedelta(minutes=11))) == sorted(first)


def test_sent_outcome_records_items_and_sent_papers(engine: Engine) -> None:
    [sid] = add_subscribers(engine, 1)
    papers = add_papers(engine, 3)
    queue_all(engine)
    [delivery] = claim(engine, "w1")
    items = (Item(papers[0], 0.9, "matches llm"), Item(papers[2], 0.5, "matches llm"))
    with transaction(engine) as session:
        marked = mark_sending(session, {delivery: items}, worker_id="w1", now=NOW)
    assert marked == {delivery}
    assert stored_items(engine) == {delivery: list(items)}
    with transaction(engine) as session:
        record_outcomes(
            session,
            [Outcome(delivery, sid, DAY, "sent", message_id="<m@x>", items=items)],
            worker_id="w1",
            now=NOW,
        )
    with transaction(engine) as session:
        [entry] = ledger_entries(session)
        sent = sent_paper_ids(session, [sid], papers)
    assert (entry.status, entry.attempts, entry.item_count) == ("sent", 1, 2)
    assert entry.message_id == "<m@x>"
    assert sent == {sid: {papers[0], papers[2]}}
    assert stored_items(engine) == {delivery: list(items)}


def test_a_lost_lease_is_not_marked_sending(engine: Engine) -> None:
    add_subscribers(engine, 1)
    queue_all(engine)
    [delivery] = claim(engine, "w1")
    later = NOW + timedelta(minutes=11)
    assert claim(engine, "w2", now=later) == [delivery]
    with transaction(engine) as session:
        marked = mark_sending(session, {delivery: ()}, worker_id="w1", now=later)
    assert marked == set()


def test_recovery_makes_a_dead_workers_sending_rows_unknown(engine: Engine) -> None:
    subs = add_subscribers(engine, 4)
    papers = add_papers(engine, 1)
    queue_all(engine)
    dead = claim(engine, "dead", limit=2)
    alive = claim(engine, "alive", limit=2)
    with transaction(engine) as session:
        mark_sending(
            session,
            {dead[0]: (Item(papers[0], 1.0, "r"),)},
            worker_id="dead",
            now=NOW,
        )
        mark_sending(session, {alive[0]: ()}, worker_id="alive", now=NOW)
        assert sorted(lease_owners(session)) == ["alive", "dead"]
    with transaction(engine) as session:
        assert recover_interrupted(session, now=NOW, dead_owners=["dead"]) == (1, 1)
    with transaction(engine) as session:
        statuses = {e.email: e.status for e in ledger_entries(session)}
        sent = sent_paper_ids(session, subs, papers)
    assert statuses == {
        "user0@example.org": "unknown",
        "user1@example.org": "queued",
        "user2@example.org": "sending",
        "user3@example.org": "queued",
    }
    assert sent[subs[0]] == {papers[0]}  # it may have arrived: never send those papers again
    assert claim(engine, "new") == [dead[1]]  # the dead worker's lease was released


def test_retry_and_suppression_outcomes(engine: Engine) -> None:
    subs = add_subscribers(engine, 2)
    queue_all(engine)
    ids = claim(engine, "w1")
    later = NOW + timedelta(minutes=5)
    with transaction(engine) as session:
        mark_sending(session, dict.fromkeys(ids, ()), worker_id="w1", now=NOW)
        record_outcomes(
            session,
            [
                Outcome(ids[0], subs[0], DAY, "retry", error="451 later", next_attempt_at=later),
                Outcome(
                    ids[1],
                    subs[1],
                    DAY,
                    "failed",
                    email="user1@example.org",
                    error="550 no such user",
                    suppress=True,
                ),
            ],
            worker_id="w1",
            now=NOW,
        )
    assert claim(engine, "w2") == []
    assert claim(engine, "w2", now=later) == [ids[0]]
    with transaction(engine) as session:
        bounced = session.scalar(select(SubscriberRow.status).where(SubscriberRow.id == subs[1]))
        release(session, [ids[0]], worker_id="w2")
    assert bounced == "bounced"
    assert claim(engine, "w3", now=later) == [ids[0]]


def test_an_outcome_for_a_row_no_longer_held_changes_nothing(engine: Engine) -> None:
    """A worker that lost its row (a sibling recovered it as unknown) cannot overwrite it."""
    [sid] = add_subscribers(engine, 1)
    queue_all(engine)
    [delivery] = claim(engine, "w1")
    with transaction(engine) as session:
        assert mark_sending(session, {delivery: ()}, worker_id="w1", now=NOW) == {delivery}
    with transaction(engine) as session:
        assert recover_interrupted(session, now=NOW, dead_owners=["w1"]) == (1, 0)
    with transaction(engine) as session:
        outcome = Outcome(delivery, sid, DAY, "retry", error="451", next_attempt_at=NOW)
        record_outcomes(session, [outcome], worker_id="w1", now=NOW)
        [entry] = ledger_entries(session)
    assert entry.status == "unknown"


def test_heartbeats_keep_leases_and_a_silent_worker_loses_them(engine: Engine) -> None:
    add_subscribers(engine, 4)
    queue_all(engine)
    mine = claim(engine, "w1", limit=2)  # leased for ten minutes
    soon = NOW + timedelta(seconds=LEASE_SECONDS)
    with transaction(engine) as session:
        assert renew_leases(session, worker_id="w1", lease_until=soon) == 2
        mark_sending(session, {mine[0]: ()}, worker_id="w1", now=NOW)
        assert lease_owners(session) == ["w1"]
    assert sorted(claim(engine, "w2", now=NOW)) == sorted(set(range(1, 5)) - set(mine))
    later = soon + timedelta(seconds=1)
    assert claim(engine, "w3", now=later) == [mine[1]]  # not renewed: back in the queue
    with transaction(engine) as session:
        assert recover_interrupted(session, now=later) == (1, 0)
        statuses = {e.status for e in ledger_entries(session)}
    assert statuses == {"unknown", "queued"}


def test_a_row_marked_but_never_sent_goes_back_as_it_was(engine: Engine) -> None:
    subs = add_subscribers(engine, 2)
    papers = add_papers(engine, 1)
    queue_all(engine)
    first, second = claim(engine, "w1")
    # `second` failed once already: it is a retry row.
    with transaction(engine) as session:
        once = (Item(papers[0], 0.5, "tried"),)
        mark_sending(session, {second: once}, worker_id="w1", now=NOW)
        outcome = Outcome(second, subs[1], DAY, "retry", error="451 later", next_attempt_at=NOW)
        record_outcomes(session, [outcome], worker_id="w1", now=NOW)
    assert stored_items(engine)[second] == []  # not sent: its papers may go out later
    assert claim(engine, "w1") == [second]
    items = (Item(papers[0], 1.0, "r"),)
    with transaction(engine) as session:
        mark_sending(session, {first: items, second: items}, worker_id="w1", now=NOW)
    assert stored_items(engine) == {first: list(items), second: list(items)}
    with transaction(engine) as session:
        unmark_sending(session, [first, second], worker_id="w2")  # not its rows: no change
        assert {e.status for e in ledger_entries(session)} == {"sending"}
        unmark_sending(session, [first, second], worker_id="w1")
    with transaction(engine) as session:
        entries = {e.email: (e.status, e.attempts, e.item_count) for e in ledger_entries(session)}
        assert sent_paper_ids(session, subs, papers) == {subs[0]: set(), subs[1]: set()}
    assert entries == {"user0@example.org": ("queued", 0, 0), "user1@example.org": ("retry", 1, 0)}
    assert stored_items(engine) == {first: [], second: []}
    assert sorted(claim(engine, "w3")) == sorted([first, second])  # leases were released
