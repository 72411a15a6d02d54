"""Ingesting listings into the paper store, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine

from digest.records import FeedEntry
from digest.store.engine import transaction
from digest.store.papers import (
    IngestCounts,
    SourceState,
    candidate_papers,
    get_source_state,
    ingest_entries,
    paper_by_key,
    paper_sources,
    papers_by_ids,
    put_source_state,
    trending_papers,
)

MONDAY = datetime(2025, 8, 18, 4, 0, tzinfo=UTC)
TUESDAY = MONDAY + timedelta(days=1)

V1 = FeedEntry(
    source="arxiv-ai",
    key="2508.13426",
    title="ALIGN: Word Association Learning",
    abstract="First version.",
    authors=("Chunhua Liu",),
    categories=("cs.CL", "cs.AI"),
    arxiv_id="2508.13426",
    version=1,
    announce_type="new",
    announced_on=date(2025, 8, 18),
)


def ingest(engine: Engine, *entries: FeedEntry, now: datetime = MONDAY) -> IngestCounts:
    with transaction(engine) as session:
        return ingest_entries(session, entries, now=now)


def test_new_then_unchanged(engine: Engine) -> None:
    other = replace(V1, key="2508.20001", arxiv_id="2508.20001", title="Another")
    assert ingest(engine, V1, other) == IngestCounts(new=2)
    assert ingest(engine, V1, other, now=TUESDAY) == IngestCounts(unchanged=2)


def test_replacement_updates_but_is_never_new_again(engine: Engine) -> None:
    ingest(engine, V1)
    v2 = replace(
        V1,
        version=2,
        abstract="Revised.",
        announce_type="replace",
        announced_on=None,
        doi="10.18653/v1/x",
        categories=("cs.CL", "cs.CY"),
    )
    assert ingest(engine, v2, now=TUESDAY) == IngestCounts(updated=1)
    with transaction(engine) as session:
        assert candidate_papers(session, since=TUESDAY) == []
        (paper,) = candidate_papers(session, since=MONDAY)
        assert paper.abstract == "Revised."
        assert paper.categories == ("cs.CL", "cs.AI", "cs.CY")
    # An older version seen later never overwrites the newer text.
    assert ingest(engine, V1, now=TUESDAY) == IngestCounts(unchanged=1)


def test_first_seen_as_replacement_is_not_a_candidate(engine: Engine) -> None:
    old = replace(V1, key="2401.01234", arxiv_id="2401.01234", version=3, announce_type="replace")
    assert ingest(engine, old) == IngestCounts(new=1)
    with transaction(engine) as session:
        assert candidate_papers(session, since=MONDAY) == []
        assert paper_by_key(session, "2401.01234") is not None


def test_hugging_face_signals_merge_onto_the_arxiv_paper(engine: Engine) -> None:
    ingest(engine, V1)
    hf = FeedEntry(
        source="hf-daily",
        key="2508.13426",
        title="ALIGN (HF title)",
        abstract="HF copy.",
        arxiv_id="2508.13426",
        upvotes=42,
        stars=7,
        code_url="https://github.com/example/align",
        hf_url="https://huggingface.co/papers/2508.13426",
        keywords=("word association",),
        featured_on=date(2025, 8, 19),
    )
    assert ingest(engine, hf, now=TUESDAY) == IngestCounts(updated=1)
    assert ingest(engine, replace(hf, upvotes=50), now=TUESDAY) == IngestCounts(updated=1)
    with transaction(engine) as session:
        paper = paper_by_key(session, "2508.13426")
        assert paper is not None
        assert paper.db_id is not None
        assert paper.title == "ALIGN: Word Association Learning"
        assert paper.abstract == "First version."
        assert (paper.upvotes, paper.stars) == (50, 7)
        assert paper.code_url == "https://github.com/example/align"
        assert paper_sources(session, paper.db_id) == {"arxiv-ai": "new", "hf-daily": None}
        assert [p.id for p in trending_papers(session, since=date(2025, 8, 19))] == [paper.id]


def test_duplicates_within_one_batch_count_once(engine: Engine) -> None:
    cross = replace(V1, source="arxiv-cl", announce_type="cross")
    assert ingest(engine, V1, cross) == IngestCounts(new=1)


def test_candidates_newest_first_and_papers_by_ids_in_order(engine: Engine) -> None:
    second = replace(V1, key="2508.20001", arxiv_id="2508.20001", title="Second")
    ingest(engine, V1)
    ingest(engine, second, now=TUESDAY)
    with transaction(engine) as session:
        candidates = candidate_papers(session, since=MONDAY)
        assert [p.id for p in candidates] == ["2508.20001", "2508.13426"]
        ids = [p.db_id for p in candidates if p.db_id is not None]
        assert [p.id for p in papers_by_ids(session, [*reversed(ids), 99999])] == [
            "2508.13426",
            "2508.20001",
        ]


def test_source_state_round_trip(engine: Engine) -> None:
    with transaction(engine) as session:
        assert get_source_state(session, "arxiv-ai") == SourceState("arxiv-ai")
        validators = {
            "https://huggingface.co/api/daily_papers?date=2025-08-18&p=0": (
                'W/"abc"',
                "Mon, 18 Aug 2025 04:00:00 GMT",
            ),
            "https://huggingface.co/api/daily_papers?date=2025-08-18&p=1": ('"d"', None),
        }
        put_source_state(session, SourceState("arxiv-ai", validators=validators))
    with transaction(engine) as session:
        state = get_source_state(session, "arxiv-ai")
        assert state.validators == validators
        put_source_state(session, replace(state, last_error="boom", last_attempt_at=TUESDAY))
    with transaction(engine) as session:
        state = get_source_state(session, "arxiv-ai")
        assert state.last_error == "boom"
        assert state.last_attempt_at == TUESDAY
