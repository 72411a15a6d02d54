"""Updates on papers you liked, end to end: a liked paper, then a fetch from a real HTTP server
on 127.0.0.1 (recorded responses) that updates it, then digests delivered to a real SMTP
server: the update is in the next digest exactly once, in both parts, and never a pick.

Runs on SQLite and PostgreSQL (the `engine` fixture)."""

from __future__ import annotations

import asyncio
import email
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from digest.config import Settings, SourceSettings
from digest.pacing import Pacer
from digest.pipeline.deliver import deliver_due
from digest.pipeline.fetch import fetch_all
from digest.pipeline.library import add_library
from digest.records import LikedUpdate
from digest.send.loop import DeliveryReport
from digest.send.transport import SmtpTransport
from digest.sources.fetch import Politeness
from digest.sources.http import RetryPolicy
from digest.store.engine import transaction
from digest.store.feedback import record_vote
from digest.store.papers import ingest_entries
from digest.store.schema import PaperRow, UpdateNoticeRow
from digest.store.subscribers import SubscriberInput, upsert_subscriber
from digest.store.updates import updates_for
from tests.arxiv_api import ArxivApi
from tests.corpus import listing_day
from tests.send.scenario import smtp_settings
from tests.send.smtpd import FaultySmtpServer, running_server
from tests.sources.conftest import FIXTURES, FeedServer, Reply

SECTION = "Updates on papers you liked"
ALIGN = "ALIGN: Word Association Learning for Cross-Cultural Generalization in Large Language"


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def smtp_server() -> Iterator[FaultySmtpServer]:
    with running_server() as server:
        yield server


def quick() -> Politeness:
    return Politeness(throttle=Pacer(0.0), policy=RetryPolicy(attempts=1), timeout=5.0)


def subscriber(engine: Engine, address: str, now: datetime, *topics: str) -> int:
    with transaction(engine) as session:
        sub, _ = upsert_subscriber(
            session,
            SubscriberInput(email=address, topics=topics, status="active").validate(),
            default_timezone="UTC",
            default_send_at="07:00",
            now=now,
        )
    return sub.id


def fetch(settings: Settings, engine: Engine, url: str, now: datetime, kind: str) -> None:
    source = SourceSettings(name=f"feed-{kind}", kind=kind, url=url)
    settings = settings.model_copy(update={"sources": [source]})

    async def run() -> None:
        async with httpx.AsyncClient() as client:
            (report,) = await fetch_all(settings, engine, client, now=now, politeness=quick())
            assert report.ok, report.error

    asyncio.run(run())


def deliver(settings: Settings, engine: Engine, now: datetime) -> DeliveryReport:
    async def run() -> DeliveryReport:
        transport = SmtpTransport(settings.smtp)
        try:
            return await deliver_due(settings, engine, transport, now=now)
        finally:
            await transport.close()

    return asyncio.run(run())


def parts(message: Message) -> tuple[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found["text/plain"], found["text/html"]


def mails_to(server: FaultySmtpServer, address: str) -> list[Message]:
    return [email.message_from_bytes(r.data) for r in server.received if r.rcpt_to == address]


def test_a_new_arxiv_version_is_told_once_in_the_next_digest(
    settings: Settings,
    engine: Engine,
    feed_server: FeedServer,
    smtp_server: FaultySmtpServer,
    arxiv_api: ArxivApi,
    shared_data: Path,
) -> None:
    day1 = datetime(2025, 8, 20, 22, tzinfo=UTC)
    atom = shared_data / "raw" / "arxiv_rss_atom_cs.AI_2025-08-20_zotero-arxiv-daily.xml"
    url = feed_server.route("/atom/cs.AI", Reply(200, atom.read_bytes()))
    fetch(settings, engine, url, day1, "arxiv-rss")  # lists 2508.13426 as v1

    ada = subscriber(engine, "ada@example.org", day1, "speculative decoding")
    library = settings.library.model_copy(update={"arxiv_api_url": arxiv_api.url})
    settings = settings.model_copy(update={"library": library})

    async def like() -> None:
        async with httpx.AsyncClient() as client:
            report = await add_library(
                settings, engine, client, ada, "arXiv:2508.13426\n", now=day1, politeness=quick()
            )
            assert (report.added, report.fetched) == (1, 0)  # stored already: no API call

    asyncio.run(like())
    assert arxiv_api.requests == []

    # The next day's listing replaces it with v2 (and announces new papers).
    day2 = datetime(2025, 8, 21, 6, tzinfo=UTC)
    rss = (FIXTURES / "arxiv_rss2_cs.CL.xml").read_bytes()
    fetch(settings, engine, feed_server.route("/rss/cs.CL", Reply(200, rss)), day2, "arxiv-rss")

    settings = smtp_settings(settings, smtp_server.host, smtp_server.port)
    first = deliver(settings, engine, day2 + timedelta(hours=2))
    assert first.sent == 1
    (message,) = mails_to(smtp_server, "ada@example.org")
    text, html = parts(message)
    for part in (text, html):
        assert part.count(SECTION) == 1
        assert part.count("version 2 on arXiv") == 1
    picks_part, updates_part = text.split(f"== {SECTION} ==")
    assert ALIGN in " ".join(updates_part.split())
    assert "ALIGN" not in picks_part  # never one of the day's picks
    assert message["Subject"] == "Thu 21 Aug: 1 new paper on speculative decoding"

    # The day after: a new day's papers (one on speculative decoding), no update again.
    day3 = datetime(2025, 8, 22, 6, tzinfo=UTC)
    with transaction(engine) as session:
        ingest_entries(session, listing_day(shared_data, date(2026, 6, 11)), now=day3)
    assert deliver(settings, engine, day3 + timedelta(hours=2)).sent == 1
    later = mails_to(smtp_server, "ada@example.org")[1]
    assert "Speculative Decoding" in parts(later)[0]
    assert all(SECTION not in part for part in parts(later))
    with transaction(engine) as session:
        notices = session.scalars(select(UpdateNoticeRow)).all()
    assert [(n.kind, n.value, n.digest_date) for n in notices] == [("version", "2", day2.date())]


def test_code_and_an_upvote_jump_from_hugging_face(
    settings: Settings,
    engine: Engine,
    feed_server: FeedServer,
    smtp_server: FaultySmtpServer,
    shared_data: Path,
) -> None:
    day = date(2026, 6, 12)
    listed = datetime(2026, 6, 12, 1, tzinfo=UTC)
    with transaction(engine) as session:
        ingest_entries(session, listing_day(shared_data, day), now=listed)
        paper = session.scalar(select(PaperRow.id).where(PaperRow.key == "2606.13392"))
    assert paper is not None  # "MiniMax Sparse Attention", no code, no upvotes yet
    bob = subscriber(engine, "bob@example.org", listed, "sparse attention", "diffusion models")
    with transaction(engine) as session:
        record_vote(session, bob, paper, 1, now=listed)  # 👍 from an earlier digest

    hf = (shared_data / "raw" / "hf_api_daily_papers_2026-06-12_sotawhat.json").read_bytes()
    url = feed_server.route(
        "/api/daily_papers", Reply(200, hf, {"Content-Type": "application/json"})
    )
    fetched_at = datetime(2026, 6, 12, 20, tzinfo=UTC)
    fetch(settings, engine, url, fetched_at, "hf-daily")

    with transaction(engine) as session:
        (update,) = updates_for(session, [(bob, date(2026, 6, 13))])[bob]
    assert update == LikedUpdate(
        update.paper, code_url="https://github.com/MiniMax-AI/MSA", version=None, upvotes=103
    )

    settings = smtp_settings(settings, smtp_server.host, smtp_server.port)
    report = deliver(settings, engine, datetime(2026, 6, 13, 8, tzinfo=UTC))
    assert report.sent == 1
    (message,) = mails_to(smtp_server, "bob@example.org")
    text, html = parts(message)
    assert text.count("code released; 103 upvotes on Hugging Face") == 1
    assert html.count("code released; 103 upvotes on Hugging Face") == 1
    assert re.search(r'<a href="https://github.com/MiniMax-AI/MSA"[^>]*>code</a>', html)
    assert "MiniMax Sparse Attention" in text.split(f"== {SECTION} ==")[1]

    with transaction(engine) as session:
        assert updates_for(session, [(bob, date(2026, 6, 14))])[bob] == []
