"""Sentence vectors in the store, per model, on SQLite and PostgreSQL; migration 0009."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, inspect, text

from digest.records import FeedEntry
from digest.store import migrations
from digest.store.engine import transaction
from digest.store.feedback import record_vote
from digest.store.papers import ingest_entries, paper_by_key
from digest.store.vectors import (
    paper_vectors,
    papers_to_embed,
    recent_paper_vectors,
    store_paper_vectors,
    store_topic_vectors,
    subscriber_topics,
    topic_vectors,
    topics_without_vectors,
)

NOW = datetime(2026, 6, 2, 20, 0, tzinfo=UTC)
MODEL = "all-MiniLM-L6-v2-int8:0123456789abcdef"
OTHER = "all-mpnet-base-v2:fedcba9876543210"

PAPER = FeedEntry(
    source="arxiv-ai",
    key="2606.00001",
    title="Tool use for language model agents",
    abstract="Agents call tools.",
    arxiv_id="2606.00001",
    version=1,
    announce_type="new",
    announced_on=date(2026, 6, 2),
)


def unit(seed: int, size: int = 384) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=size).astype(np.float32)
    return vector / np.linalg.norm(vector)


def stored_id(engine: Engine, key: str) -> int:
    with transaction(engine) as session:
        paper = paper_by_key(session, key)
    assert paper is not None
    assert paper.db_id is not None
    return paper.db_id


def test_paper_vectors_round_trip_per_model(engine: Engine) -> None:
    old = replace(PAPER, key="2001.00001", arxiv_id="2001.00001", announce_type="replace")
    with transaction(engine) as session:
        ingest_entries(session, [PAPER], now=NOW)
        ingest_entries(session, [old], now=NOW - timedelta(days=30))
    new_id, old_id = stored_id(engine, PAPER.key), stored_id(engine, old.key)
    with transaction(engine) as session:
        # A pickable paper needs one; old news only once someone likes it.
        assert [p.db_id for p in papers_to_embed(session, MODEL, since=NOW)] == [new_id]
        assert papers_to_embed(session, MODEL, voted=True) == []
        assert {p.db_id for p in papers_to_embed(session, MODEL, every=True)} == {new_id, old_id}
        store_paper_vectors(session, MODEL, {new_id: unit(1)})
    with transaction(engine) as session:
        found = paper_vectors(session, [new_id, old_id], MODEL)
        assert list(found) == [new_id]
        assert found[new_id].dtype == np.float32
        assert np.array_equal(found[new_id], unit(1))
        assert papers_to_embed(session, MODEL, since=NOW) == []
        # Another model's vector is no vector at all.
        assert paper_vectors(session, [new_id], OTHER) == {}
        assert [p.db_id for p in papers_to_embed(session, OTHER, since=NOW)] == [new_id]


def test_a_new_text_clears_the_vector_and_new_signals_do_not(engine: Engine) -> None:
    with transaction(engine) as session:
        ingest_entries(session, [PAPER], now=NOW)
    db_id = stored_id(engine, PAPER.key)
    with transaction(engine) as session:
        store_paper_vectors(session, MODEL, {db_id: unit(2)})
    upvoted = replace(PAPER, source="hf-daily", upvotes=40, version=None, announce_type=None)
    with transaction(engine) as session:
        ingest_entries(session, [upvoted], now=NOW + timedelta(hours=1))
        assert list(paper_vectors(session, [db_id], MODEL)) == [db_id]
    revised = replace(PAPER, version=2, abstract="Agents call tools, and learn which to call.")
    with transaction(engine) as session:
        ingest_entries(session, [revised], now=NOW + timedelta(hours=2))
    with transaction(engine) as session:
        assert paper_vectors(session, [db_id], MODEL) == {}
        [again] = papers_to_embed(session, MODEL, since=NOW)
        assert again.abstract == revised.abstract


def test_liked_papers_are_embedded_whatever_their_age(engine: Engine) -> None:
    old = replace(PAPER, key="1706.03762", arxiv_id="1706.03762", announce_type="replace")
    with transaction(engine) as session:
        ingest_entries(session, [old], now=NOW - timedelta(days=300))
        session.execute(
            text(
                "INSERT INTO subscribers (email, status, topics, categories, authors, exclude, "
                "timezone, send_at, token_version, created_at, updated_at, frequency, "
                "feed_only, link_secret) VALUES ('a@example.org', 'active', "
                "'[\"tool use\", \" \"]', '[]', '[]', '[]', 'UTC', '08:00', 0, :now, :now, "
                "'daily', false, 's')"
            ),
            {"now": NOW},
        )
    db_id = stored_id(engine, old.key)
    with transaction(engine) as session:
        subscriber = session.execute(text("SELECT id FROM subscribers")).scalar_one()
        record_vote(session, subscriber, db_id, 1, now=NOW)
    with transaction(engine) as session:
        assert papers_to_embed(session, MODEL, since=NOW - timedelta(days=8)) == []
        assert [p.db_id for p in papers_to_embed(session, MODEL, voted=True)] == [db_id]
        assert subscriber_topics(session) == ["tool use"]


def test_recent_vectors_are_those_a_digest_picks_from(engine: Engine) -> None:
    """The papers of the last days (not old news, with a vector of the model); with none
    that recent, those of the same span up to the newest paper that has one."""
    day = timedelta(days=1)
    papers = {
        "2606.00001": (NOW, "new"),
        "2606.00002": (NOW - 2 * day, "new"),
        "2606.00003": (NOW - 6 * day, "new"),
        "2001.00001": (NOW, "replace"),  # an old paper revised: old news
    }
    with transaction(engine) as session:
        for key, (seen, kind) in papers.items():
            entry = replace(PAPER, key=key, arxiv_id=key, announce_type=kind)
            ingest_entries(session, [entry], now=seen)
    ids = {key: stored_id(engine, key) for key in papers}
    with transaction(engine) as session:
        store_paper_vectors(
            session, MODEL, {db_id: unit(n) for n, db_id in enumerate(ids.values())}
        )
        store_paper_vectors(session, OTHER, {ids["2606.00001"]: unit(9)})  # replaced: another model
    with transaction(engine) as session:
        found = recent_paper_vectors(session, MODEL, now=NOW, window=3 * day)
        assert sorted(map(tuple, found.tolist())) == sorted([tuple(unit(1).tolist())])
        later = recent_paper_vectors(session, MODEL, now=NOW + 30 * day, window=3 * day)
        assert len(later) == 1  # the same span before the newest paper with a vector
        wide = recent_paper_vectors(session, MODEL, now=NOW, window=10 * day)
        assert len(wide) == 2
        assert recent_paper_vectors(session, "unknown:0", now=NOW, window=3 * day).shape[0] == 0


def test_topic_vectors_are_kept_once_per_topic_and_model(engine: Engine) -> None:
    with transaction(engine) as session:
        store_topic_vectors(session, MODEL, {"LLM agents": unit(3), "tool use": unit(4)}, now=NOW)
    with transaction(engine) as session:
        # A second writer of the same topic (another process) changes nothing.
        store_topic_vectors(session, MODEL, {"LLM agents": unit(5)}, now=NOW)
        store_topic_vectors(session, OTHER, {"LLM agents": unit(6, 768)}, now=NOW)
    with transaction(engine) as session:
        found = topic_vectors(session, ["LLM agents", "tool use", "unknown"], MODEL)
        assert set(found) == {"LLM agents", "tool use"}
        assert np.array_equal(found["LLM agents"], unit(3))
        assert topic_vectors(session, ["LLM agents"], OTHER)["LLM agents"].shape == (768,)
        wanted = ["unknown", "LLM agents", "unknown", "llm agents"]
        assert topics_without_vectors(session, wanted, MODEL) == ["unknown", "llm agents"]


def test_migration_0009_adds_vectors_and_keeps_every_paper(empty_engine: Engine) -> None:
    """Upgrading adds the columns and the table without touching papers, their listings
    or votes (SQLite included: no table copy); downgrading removes them again."""
    migrations.upgrade(empty_engine, "0008")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO papers (id, key, title, abstract, authors, categories, keywords, "
                "first_seen_at, old_news, changed_at) VALUES (1, :key, 'Tool use', '', '[]', "
                "'[]', '[]', :now, false, :now)"
            ),
            {"key": PAPER.key, "now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO paper_listings (paper_id, source, first_listed_at, last_listed_at)"
                " VALUES (1, 'arxiv-ai', :now, :now)"
            ),
            {"now": NOW},
        )
    migrations.upgrade(empty_engine)
    columns = {c["name"] for c in inspect(empty_engine).get_columns("papers")}
    assert {"embedding", "embedding_model"} <= columns
    assert "topic_vectors" in inspect(empty_engine).get_table_names()
    db_id = stored_id(empty_engine, PAPER.key)
    with transaction(empty_engine) as session:
        assert [p.db_id for p in papers_to_embed(session, MODEL, every=True)] == [db_id]
        store_paper_vectors(session, MODEL, {db_id: unit(7)})
        store_topic_vectors(session, MODEL, {"tool use": unit(8)}, now=NOW)
    migrations.downgrade(empty_engine, "0008")
    columns = {c["name"] for c in inspect(empty_engine).get_columns("papers")}
    assert not {"embedding", "embedding_model"} & columns
    assert "topic_vectors" not in inspect(empty_engine).get_table_names()
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM paper_listings")).scalar() == 1
        assert conn.execute(text("SELECT key FROM papers")).scalar() == PAPER.key
    migrations.upgrade(empty_engine)
    with transaction(empty_engine) as session:
        assert paper_vectors(session, [db_id], MODEL) == {}
