"""What the running service reads and tidies: counts, fetch states, expired sign-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from digest.store.engine import open_engine, transaction
from digest.store.papers import SourceState, put_source_state
from digest.store.service_state import (
    active_subscriber_count,
    database_problem,
    expire_unconfirmed,
    fetch_states,
    prune_fetch_states,
)
from digest.store.subscribers import SubscriberInput, list_subscribers, upsert_subscriber

NOW = datetime(2025, 6, 10, 3, 17, tzinfo=UTC)


def add(engine: Engine, email: str, status: str, when: datetime) -> None:
    with transaction(engine) as session:
        upsert_subscriber(
            session,
            SubscriberInput(email=email, topics=("graphs",), status=status).validate(),
            default_timezone="UTC",
            default_send_at="07:00",
            now=when,
        )


def test_unconfirmed_sign_ups_expire_and_nobody_else_does(engine: Engine) -> None:
    old = NOW - timedelta(days=5)
    add(engine, "stale@example.org", "pending", old)
    add(engine, "fresh@example.org", "pending", NOW - timedelta(hours=2))
    add(engine, "reader@example.org", "active", old)
    add(engine, "away@example.org", "paused", old)
    assert expire_unconfirmed(engine, requested_before=NOW - timedelta(days=4)) == 1
    with transaction(engine) as session:
        left = {s.email for s in list_subscribers(session)}
    assert left == {"fresh@example.org", "reader@example.org", "away@example.org"}
    assert active_subscriber_count(engine) == 1


def test_fetch_state_of_removed_sources_is_pruned(engine: Engine) -> None:
    with transaction(engine) as session:
        for name in ("arxiv-ai", "old-blog"):
            put_source_state(session, SourceState(name, last_success_at=NOW))
    assert prune_fetch_states(engine, keep=["arxiv-ai"]) == 1
    assert list(fetch_states(engine)) == ["arxiv-ai"]
    assert fetch_states(engine)["arxiv-ai"].last_success_at == NOW


def test_database_problem_is_none_when_reachable_and_a_reason_when_not(engine: Engine) -> None:
    assert database_problem(engine) is None
    down = open_engine("postgresql://digest:pw-secret@127.0.0.1:1/digest")
    try:
        problem = database_problem(down)
    finally:
        down.dispose()
    assert problem is not None
    assert problem.problem == "unreachable"
    assert "pw-secret" not in str(problem)
