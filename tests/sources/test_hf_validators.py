"""Hugging Face Daily Papers is fetched day by day and page by page; each URL keeps its own
ETag, so a repeat fetch is conditional for every one of them (recorded responses served on
127.0.0.1, stored in SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from digest.config import Settings
from digest.sources.fetch import Politeness, page_url
from digest.store.engine import transaction
from digest.store.papers import get_source_state, paper_by_key
from tests.sources.conftest import FeedServer, Reply
from tests.sources.test_fetch_all import HF, run, source

FEATURED = "2026-06-12"
NOW = datetime(2026, 6, 12, 18, 0, tzinfo=UTC)  # lists asked for: 2026-06-12 and 2026-06-11
JSON = {"Content-Type": "application/json; charset=utf-8"}


def reply(items: list[object]) -> Reply:
    """A daily_papers page as Hugging Face serves it, with an ETag of its own body."""
    body = json.dumps(items).encode()
    etag = f'W/"{hashlib.sha256(body).hexdigest()[:16]}"'
    return Reply(200, body, {**JSON, "ETag": etag})


def pages(items: list[object], size: int) -> list[list[object]]:
    return [items[start : start + size] for start in range(0, len(items) + 1, size)]


def serve_day(feed_server: FeedServer, day: str, items: list[object], size: int) -> None:
    for number, page in enumerate(pages(items, size)):
        feed_server.route("/api/daily_papers", reply(page), query={"date": day, "p": str(number)})


def sent(feed_server: FeedServer) -> list[tuple[str, str, str | None]]:
    """(date, page, If-None-Match) of each request, in order."""
    out = []
    for seen in feed_server.seen("/api/daily_papers"):
        params = dict(part.split("=", 1) for part in seen.query.split("&"))
        out.append((params["date"], params["p"], seen.headers.get("If-None-Match")))
    return out


def test_every_day_and_page_is_fetched_with_its_own_validators(
    settings: Settings,
    engine: Engine,
    feed_server: FeedServer,
    politeness: Politeness,
    shared_data: Path,
) -> None:
    items = json.loads((shared_data / HF).read_bytes())
    assert len(items) == 30
    serve_day(feed_server, FEATURED, items, 10)  # pages 0-2 full, page 3 empty
    serve_day(feed_server, "2026-06-11", [], 10)
    hf = [source("hf-daily", "hf-daily", feed_server.url("/api/daily_papers") + "?limit=10")]

    first = run(settings, engine, hf, politeness, now=NOW)["hf-daily"]
    assert (first.fetched, first.new, first.error, first.not_modified) == (30, 30, None, False)
    assert [(d, p) for d, p, _ in sent(feed_server)] == [
        (FEATURED, "0"),
        (FEATURED, "1"),
        (FEATURED, "2"),
        (FEATURED, "3"),
        ("2026-06-11", "0"),
    ]
    assert all(etag is None for _, _, etag in sent(feed_server))
    with transaction(engine) as session:
        stored = get_source_state(session, "hf-daily").validators
    assert len(stored) == 5
    assert len({etag for etag, _ in stored.values()}) == 4  # the two empty pages are alike

    feed_server.requests.clear()
    second = run(settings, engine, hf, politeness, now=NOW + timedelta(hours=2))["hf-daily"]
    assert (second.fetched, second.error, second.not_modified) == (0, None, True)
    asked = sent(feed_server)
    assert [(d, p) for d, p, _ in asked] == [
        (FEATURED, "0"),
        (FEATURED, "1"),
        (FEATURED, "2"),
        (FEATURED, "3"),
        ("2026-06-11", "0"),
    ]
    base = feed_server.url("/api/daily_papers")
    for day, page, etag in asked:
        url = page_url(base, {"limit": "10", "date": day, "p": page})
        assert etag == stored[url][0], (day, page)

    # Upvotes move: page 1 changes, the others do not.
    items[12]["paper"]["upvotes"] = 999
    feed_server.route("/api/daily_papers", reply(items[10:20]), query={"date": FEATURED, "p": "1"})
    feed_server.requests.clear()
    third = run(settings, engine, hf, politeness, now=NOW + timedelta(hours=4))["hf-daily"]
    assert (third.fetched, third.updated, third.not_modified) == (10, 1, False)
    assert all(etag is not None for _, _, etag in sent(feed_server))
    with transaction(engine) as session:
        paper = paper_by_key(session, items[12]["paper"]["id"])
        assert paper is not None
        assert paper.upvotes == 999


def test_the_next_day_reuses_yesterdays_validators(
    settings: Settings,
    engine: Engine,
    feed_server: FeedServer,
    politeness: Politeness,
    shared_data: Path,
) -> None:
    items = json.loads((shared_data / HF).read_bytes())
    serve_day(feed_server, FEATURED, items, 100)
    serve_day(feed_server, "2026-06-11", [], 100)
    serve_day(feed_server, "2026-06-13", items[:3], 100)
    hf = [source("hf-daily", "hf-daily", feed_server.url("/api/daily_papers"))]
    assert run(settings, engine, hf, politeness, now=NOW)["hf-daily"].new == 30

    feed_server.requests.clear()
    next_day = run(settings, engine, hf, politeness, now=NOW + timedelta(days=1))["hf-daily"]
    assert next_day.error is None
    asked = sent(feed_server)
    assert [(d, p) for d, p, _ in asked] == [("2026-06-13", "0"), (FEATURED, "0")]
    assert asked[0][2] is None  # a day never asked for before
    assert asked[1][2] is not None  # yesterday's list, unchanged: 304
    assert next_day.fetched == 3
    with transaction(engine) as session:
        kept = get_source_state(session, "hf-daily").validators
    assert sorted(url.split("date=")[1][:10] for url in kept) == ["2026-06-12", "2026-06-13"]


def test_trouble_keeps_the_old_validators(
    settings: Settings,
    engine: Engine,
    feed_server: FeedServer,
    politeness: Politeness,
    shared_data: Path,
) -> None:
    items = json.loads((shared_data / HF).read_bytes())
    serve_day(feed_server, FEATURED, items, 100)
    serve_day(feed_server, "2026-06-11", [], 100)
    hf = [source("hf-daily", "hf-daily", feed_server.url("/api/daily_papers"))]
    run(settings, engine, hf, politeness, now=NOW)
    with transaction(engine) as session:
        before = get_source_state(session, "hf-daily").validators
    feed_server.route(
        "/api/daily_papers", Reply(500, b"oops"), query={"date": "2026-06-11", "p": "0"}
    )
    failed = run(settings, engine, hf, politeness, now=NOW + timedelta(hours=2))["hf-daily"]
    assert failed.error is not None
    with transaction(engine) as session:
        assert get_source_state(session, "hf-daily").validators == before
