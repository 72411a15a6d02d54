"""A small running site with one delivered weekly digest, for screenshots of its web page.

`archive_site(directory)` builds a SQLite database in `directory`, stores a week of real
papers (the busiest day of the shared corpus, spread over seven mornings, and the recorded
Hugging Face Daily Papers page, with its one-line summaries), subscribes a weekly reader,
delivers their Monday digest to the outbox with the real pipeline, serves the real web app
on 127.0.0.1 and yields the digest's "View in your browser" address.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import uvicorn
from render import CORPUS, load_day, sample_settings

from digest.pipeline.deliver import deliver_due
from digest.records import FeedEntry, Paper
from digest.render.links import LinkMaker
from digest.send.transport import make_transport
from digest.sources.hf_daily import parse_daily_papers
from digest.store import migrations
from digest.store.engine import open_engine, transaction
from digest.store.papers import ingest_entries
from digest.store.subscribers import SubscriberInput, get_subscriber, upsert_subscriber
from digest.web import create_app

MONDAY = date(2026, 6, 15)
TOPICS = ("LLM agents", "sparse attention", "reinforcement learning")
HF_PAGE = CORPUS.parents[1] / "raw" / "hf_api_daily_papers_2026-06-12_sotawhat.json"


def _entry(paper: Paper) -> FeedEntry:
    return FeedEntry(
        source="arxiv",
        key=paper.id,
        arxiv_id=paper.id,
        title=paper.title,
        abstract=paper.abstract,
        authors=paper.authors,
        categories=paper.categories,
        abs_url=paper.abs_url,
        pdf_url=paper.pdf_url,
        code_url=paper.code_url,
        stars=paper.stars,
    )


def _store_week(url: str) -> None:
    engine = open_engine(url)
    migrations.upgrade(engine)
    papers = load_day(limit=420)
    with transaction(engine) as session:
        for day in range(7):  # a seventh of the day's papers each morning of the week
            morning = datetime.combine(MONDAY - timedelta(days=6 - day), time(1), tzinfo=UTC)
            ingest_entries(session, [_entry(p) for p in papers[day::7]], now=morning)
        friday = datetime.combine(MONDAY - timedelta(days=3), time(9), tzinfo=UTC)
        hf = parse_daily_papers(HF_PAGE.read_text(encoding="utf-8"), source="hf-daily")
        ingest_entries(session, hf.entries, now=friday)
        upsert_subscriber(
            session,
            SubscriberInput(
                email="reader@example.org",
                topics=TOPICS,
                status="active",
                timezone="UTC",
                send_at="07:00",
                frequency="weekly",
                weekday="mon",
            ).validate(),
            default_timezone="UTC",
            default_send_at="07:00",
            now=friday - timedelta(days=30),
        )
    engine.dispose()


@contextmanager
def archive_site(directory: Path) -> Iterator[str]:
    """Yields the URL of the weekly digest's page while the site runs (see the docstring)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    url = f"sqlite:///{directory / 'archive.sqlite3'}"
    settings = sample_settings(directory, from_name="Paper Digest")
    settings = settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"url": url}),
            "web": settings.web.model_copy(update={"base_url": base}),
        }
    )
    _store_week(url)
    engine = open_engine(url)
    transport = make_transport(settings)
    monday = datetime.combine(MONDAY, time(8), tzinfo=UTC)
    # In a thread of its own, as the server below: the caller may be running an event loop.
    delivery = threading.Thread(
        target=asyncio.run, args=(deliver_due(settings, engine, transport, now=monday),)
    )
    delivery.start()
    delivery.join()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, engine, transport), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    try:
        with transaction(engine) as session:
            reader = get_subscriber(session, "reader@example.org")
        yield LinkMaker(settings).archive(reader, MONDAY)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        engine.dispose()
