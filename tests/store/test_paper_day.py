"""A paper's day on the front page: the day arXiv announced it, else the day Hugging Face
featured it, else the day it was first seen. Recorded listings, SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select, text

from digest.records import LOOKED_UP, FeedEntry
from digest.sources.arxiv_rss import parse_listing
from digest.sources.hf_daily import parse_daily_papers
from digest.store import migrations
from digest.store.browse import paper_days, papers_on_day
from digest.store.engine import transaction
from digest.store.papers import candidate_papers, ingest_entries
from digest.store.schema import PaperRow

HF = "raw/hf_api_daily_papers_2026-06-12_sotawhat.json"
ATOM = "raw/arxiv_rss_atom_cs.AI_2025-08-20_zotero-arxiv-daily.xml"
FEATURED = date(2026, 6, 12)
# Hugging Face's list of the 12th, fetched two days later (the service asks for today's and
# yesterday's list; a list fetched after an outage can be older still).
FETCHED = datetime(2026, 6, 14, 9, 0, tzinfo=UTC)


def hf_entries(shared_data: Path) -> list[FeedEntry]:
    parsed = parse_daily_papers((shared_data / HF).read_text(), source="hf-daily")
    assert len(parsed.entries) == 30
    return parsed.entries


def ingest(engine: Engine, entries: list[FeedEntry], now: datetime) -> None:
    with transaction(engine) as session:
        ingest_entries(session, entries, now=now)


def days(engine: Engine) -> list[date]:
    with transaction(engine) as session:
        return paper_days(session)


def on_day(engine: Engine, day: date) -> set[str]:
    with transaction(engine) as session:
        papers, total = papers_on_day(session, day, limit=100)
    assert total == len(papers)
    return {p.id for p in papers}


def test_a_paper_only_hugging_face_lists_is_dated_by_its_featured_day(
    engine: Engine, shared_data: Path
) -> None:
    entries = hf_entries(shared_data)
    ingest(engine, entries, FETCHED)
    assert days(engine) == [FEATURED]
    assert on_day(engine, FEATURED) == {e.key for e in entries}
    assert on_day(engine, FETCHED.date()) == set()
    with transaction(engine) as session:  # still news for the digests
        fresh = candidate_papers(session, since=FETCHED - timedelta(hours=1))
    assert {p.id for p in fresh} == {e.key for e in entries}


def test_arxivs_announcement_wins_whichever_listing_came_first(
    engine: Engine, shared_data: Path
) -> None:
    entries = hf_entries(shared_data)
    first, second = entries[0], entries[1]
    listing = parse_listing((shared_data / ATOM).read_text(), source="arxiv-ai").entries
    new = next(e for e in listing if e.announce_type == "new")
    announced = date(2026, 6, 11)

    def on_arxiv(hf: FeedEntry) -> FeedEntry:
        """arXiv's own listing of the paper Hugging Face featured."""
        return replace(new, key=hf.key, arxiv_id=hf.arxiv_id, announced_on=announced)

    # Hugging Face first, arXiv's listing later …
    ingest(engine, [first], FETCHED)
    ingest(engine, [on_arxiv(first)], FETCHED + timedelta(hours=1))
    # … and arXiv first, Hugging Face later.
    ingest(engine, [on_arxiv(second)], FETCHED)
    ingest(engine, [second], FETCHED + timedelta(hours=1))
    assert days(engine) == [announced]
    assert on_day(engine, announced) == {first.key, second.key}
    # A later cross-listing does not move the day.
    cross = replace(on_arxiv(first), announce_type="cross", announced_on=date(2026, 6, 13))
    ingest(engine, [cross], FETCHED + timedelta(days=1))
    assert days(engine) == [announced]


def test_a_paper_nothing_dates_takes_the_day_it_was_first_seen(engine: Engine) -> None:
    seen = datetime(2026, 6, 14, 23, 30, tzinfo=UTC)
    post = FeedEntry(source="blog", key="url:example.org/post", title="A post")
    ingest(engine, [post], seen)
    ingest(engine, [post], seen + timedelta(days=2))
    assert days(engine) == [date(2026, 6, 14)]


def test_old_news_stays_out_of_the_digests_but_keeps_its_day(
    engine: Engine, shared_data: Path
) -> None:
    listing = parse_listing((shared_data / ATOM).read_text(), source="arxiv-ai").entries
    cross = [e for e in listing if e.announce_type != "new"]
    replaced = replace(cross[0], announce_type="replace", announced_on=None)
    looked_up = replace(
        cross[1], announce_type=LOOKED_UP, announced_on=date(2017, 6, 12), featured_on=None
    )
    ingest(engine, [replaced, looked_up], FETCHED)
    with transaction(engine) as session:
        assert candidate_papers(session, since=FETCHED - timedelta(hours=1)) == []
    assert date(2017, 6, 12) in days(engine)


def test_the_upgrade_marks_old_news_and_keeps_stored_days(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine, "0006")
    now = "2026-06-14 09:00:00+00:00"
    columns = "(key, title, abstract, authors, categories, keywords, first_seen_at, changed_at"
    with empty_engine.begin() as conn:
        for key, announced in (("2606.00001", "2026-06-11"), ("2606.00002", None)):
            conn.execute(
                text(
                    f"INSERT INTO papers {columns}, announced_on) VALUES "
                    "(:key, 't', '', '[]', '[]', '[]', :now, :now, :day)"
                ),
                {"key": key, "now": now, "day": announced},
            )
    migrations.upgrade(empty_engine)
    with transaction(empty_engine) as session:
        rows = {r.key: (r.announced_on, r.old_news) for r in session.scalars(select(PaperRow))}
    assert rows == {"2606.00001": (date(2026, 6, 11), False), "2606.00002": (None, True)}
    migrations.downgrade(empty_engine, "0006")
    with empty_engine.connect() as conn:
        back = {
            str(key): day for key, day in conn.execute(text("SELECT key, announced_on FROM papers"))
        }
    assert back["2606.00002"] is None
    assert str(back["2606.00001"]) == "2026-06-11"
