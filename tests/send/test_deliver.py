"""End to end: the ledger, ranking, rendering and a real SMTP server, with faults."""

from __future__ import annotations

import asyncio
import email
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from digest.config import Settings
from digest.pipeline.compose import compose_digest
from digest.pipeline.deliver import deliver_due
from digest.records import FeedEntry
from digest.send.loop import DeliveryReport
from digest.send.transport import SmtpTransport
from digest.store.delivery_reads import ledger_entries
from digest.store.engine import transaction
from digest.store.papers import ingest_entries
from digest.store.suppressions import is_suppressed
from tests.send.scenario import add_papers, add_subscribers, smtp_settings
from tests.send.smtpd import FaultPlan, FaultySmtpServer

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
DAY = date(2026, 7, 1)


def deliver(
    settings: Settings, engine: Engine, now: datetime = NOW, **kwargs: Any
) -> DeliveryReport:
    async def run() -> DeliveryReport:
        transport = SmtpTransport(settings.smtp)
        try:
            return await deliver_due(settings, engine, transport, now=now, **kwargs)
        finally:
            await transport.close()

    return asyncio.run(run())


def statuses(engine: Engine) -> dict[str, str]:
    with transaction(engine) as session:
        return {e.email: e.status for e in ledger_entries(session)}


def setup(
    engine: Engine, settings: Settings, server: FaultySmtpServer, count: int = 5, **smtp: Any
) -> tuple[Settings, list[str]]:
    add_papers(engine, NOW - timedelta(hours=12))
    emails = add_subscribers(engine, count, now=NOW)
    return smtp_settings(settings, server.host, server.port, **smtp), emails


def test_each_due_subscriber_gets_one_digest_and_a_rerun_sends_nothing(
    engine: Engine, settings: Settings, smtp_server: FaultySmtpServer
) -> None:
    settings, emails = setup(engine, settings, smtp_server)
    add_subscribers(engine, 2, now=NOW, send_at="18:00", prefix="evening")
    add_subscribers(engine, 1, now=NOW, topic="medieval poetry", prefix="poet")
    report = deliver(settings, engine)
    assert (report.sent, report.skipped_empty, report.failed) == (5, 1, 0)
    assert sorted(smtp_server.recipients()) == sorted(emails)
    assert statuses(engine)["poet0@example.org"] == "skipped"
    assert "evening0@example.org" not in statuses(engine)  # 18:00 has not come yet

    again = deliver(settings, engine, now=NOW + timedelta(hours=1))
    assert again.sent == 0
    assert len(smtp_server.received) == 5

    evening = deliver(settings, engine, now=NOW + timedelta(hours=9, minutes=1))
    assert evening.sent == 2
    message = email.message_from_bytes(smtp_server.received[0].data)
    assert message["List-Unsubscribe"]
    assert smtp_server.received[0].mail_from.startswith("bounces+")


def test_papers_are_never_sent_twice(
    engine: Engine, settings: Settings, smtp_server: FaultySmtpServer
) -> None:
    settings, _ = setup(engine, settings, smtp_server, count=1)
    deliver(settings, engine)
    deliver(settings, engine, now=NOW + timedelta(days=1))
    with transaction(engine) as session:
        entries = ledger_entries(session)
    assert [e.status for e in entries] == ["sent", "skipped"]  # day 2: nothing new left
    assert entries[0].item_count >= 1


def test_451_at_rcpt_retries_later_the_same_day(
    engine: Engine, settings: Settings, smtp_server: FaultySmtpServer
) -> None:
    settings, emails = setup(engine, settings, smtp_server)
    smtp_server.plan = FaultPlan(
        rcpt_reply="451 4.7.1 Greylisted", for_addresses=frozenset({emails[0]})
    )
    report = deliver(settings, engine)
    assert (report.sent, report.retry) == (4, 1)
    assert statuses(engine)[emails[0]] == "retry"
    assert deliver(settings, engine, now=NOW + timedelta(seconds=30)).done == 0  # backing off
    smtp_server.plan = FaultPlan()
    later = deliver(settings, engine, now=NOW + timedelta(minutes=2))
    assert later.sent == 1
    assert Counter(smtp_server.recipients()) == Counter(emails)


def test_550_at_rcpt_fails_and_suppresses_the_address(
    engine: Engine, settings: Settings, smtp_server: FaultySmtpServer
) -> None:
    settings, emails = setup(engine, settings, smtp_server)
    smtp_server.plan = FaultPlan(
        rcpt_reply="550 5.1.1 No such user", for_addresses=frozenset({emails[1]})
    )
    report = deliver(settings, engine)
    assert (report.sent, report.failed, report.suppressed) == (4, 1, 1)
    with transaction(engine) as session:
        assert is_suppressed(session, emails[1])
    deliver(settings, engine, now=NOW + timedelta(days=1))
    assert emails[1] not in smtp_server.recipients()


def test_a_drop_during_data_is_unknown_and_never_resent(
    engine: Engine, settings: Settings, smtp_server: FaultySmtpServer
) -> None:
    settings, emails = setup(engine, settings, smtp_server)
    smtp_server.plan = FaultPlan(drop_in_data=True, for_addresses=frozenset({emails[2]}))
    report = deliver(settings, engine)
    assert (report.sent, report.unknown) == (4, 1)
    smtp_server.plan = FaultPlan()
    deliver(settings, engine, now=NOW + timedelta(hours=2))
    assert emails[2] not in smtp_server.recipients()
    assert statuses(engine)[emails[2]] == "unknown"


def test_421_at_data_and_at_connect_retry(
    engine: Engine, settings: Settings, smtp_server: FaultySmtpServer
) -> None:
    settings, emails = setup(engine, settings, smtp_server, count=3, max_connections=1)
    smtp_server.plan = FaultPlan(data_reply="421 4.3.0 Shutting down", times=1)
    report = deliver(settings, engine)
    assert (report.sent, report.retry) == (2, 1)
    smtp_server.plan = FaultPlan(connect_reply="421 4.3.2 Busy", times=1)
    assert deliver(settings, engine, now=NOW + timedelta(minutes=2)).retry == 1
    assert deliver(settings, engine, now=NOW + timedelta(minutes=8)).sent == 1
    assert Counter(smtp_server.recipients()) == Counter(emails)


def test_a_dead_relay_pauses_the_loop_instead_of_burning_the_list(
    engine: Engine, settings: Settings, smtp_server: FaultySmtpServer
) -> None:
    settings, emails = setup(engine, settings, smtp_server, count=40, max_connections=2)
    smtp_server.plan = FaultPlan(connect_reply="421 4.3.2 Down for maintenance")
    report = deliver(settings, engine, batch_size=10)
    assert report.paused is not None
    assert "421" in report.paused
    assert report.retry < 40
    left = Counter(statuses(engine).values())
    assert left["queued"] == 40 - report.retry
    smtp_server.plan = FaultPlan()
    report = deliver(settings, engine, now=NOW + timedelta(minutes=2))
    assert sorted(smtp_server.recipients()) == sorted(emails)


def test_a_stop_request_finishes_in_flight_mail_and_leaves_the_rest_queued(
    engine: Engine, settings: Settings, smtp_server: FaultySmtpServer
) -> None:
    settings, _ = setup(engine, settings, smtp_server, count=30)
    stop = asyncio.Event()

    def progress(report: DeliveryReport) -> None:
        if report.sent >= 5:
            stop.set()

    async def run() -> DeliveryReport:
        transport = SmtpTransport(settings.smtp)
        try:
            return await deliver_due(
                settings, engine, transport, now=NOW, stop=stop, progress=progress, batch_size=10
            )
        finally:
            await transport.close()

    report = asyncio.run(run())
    left = Counter(statuses(engine).values())
    assert left["sent"] == report.sent == len(smtp_server.received)
    assert left["queued"] == 30 - report.sent
    assert deliver(settings, engine).sent == 30 - report.sent


def test_dry_run_writes_and_sends_nothing(
    engine: Engine, settings: Settings, smtp_server: FaultySmtpServer
) -> None:
    settings, _ = setup(engine, settings, smtp_server)
    report = deliver(settings, engine, dry_run=True)
    assert report.sent == 5
    assert smtp_server.received == []
    assert statuses(engine) == {}


def test_only_and_all(engine: Engine, settings: Settings, smtp_server: FaultySmtpServer) -> None:
    settings, emails = setup(engine, settings, smtp_server)
    early = NOW.replace(hour=3)  # before everybody's 07:00
    assert deliver(settings, engine, now=early).done == 0
    report = deliver(settings, engine, now=early, only=emails[3], all_subscribers=True)
    assert report.sent == 1
    assert smtp_server.recipients() == [emails[3]]


def test_compose_digest_previews_without_recording(
    engine: Engine, settings: Settings, smtp_server: FaultySmtpServer
) -> None:
    settings, emails = setup(engine, settings, smtp_server, count=1)
    digest = compose_digest(settings, engine, emails[0], now=NOW)
    assert digest.picks
    assert all("decoding" in p.paper.title.lower() for p in digest.picks[:3])
    assert statuses(engine) == {}


def featured(number: int, title: str, upvotes: int) -> FeedEntry:
    key = f"2607.9{number:04d}"
    return FeedEntry(
        source="hf",
        key=key,
        title=title,
        abstract=f"{title}. We report what we found.",
        authors=("B. Author",),
        categories=("cs.CL",),
        arxiv_id=key,
        abs_url=f"https://arxiv.org/abs/{key}",
        published=NOW - timedelta(hours=12),
        featured_on=DAY,
        upvotes=upvotes,
    )


def test_trending_leaves_out_the_picks_and_lists_at_most_three(
    engine: Engine, settings: Settings, smtp_server: FaultySmtpServer
) -> None:
    settings, emails = setup(engine, settings, smtp_server, count=1)
    entries = [
        featured(0, "Speculative decoding for large language models, at scale", 900),
        featured(1, "Rhyme schemes in medieval poetry", 500),
        featured(2, "Bird migration over the Alps", 400),
        featured(3, "Sourdough fermentation kinetics", 300),
        featured(4, "Glacier retreat in Patagonia", 200),
    ]
    with transaction(engine) as session:
        ingest_entries(session, entries, now=NOW - timedelta(hours=12))
    digest = compose_digest(settings, engine, emails[0], now=NOW)
    picked = {pick.paper.id for pick in digest.picks}
    assert "2607.90000" in picked
    assert [paper.id for paper in digest.trending] == ["2607.90001", "2607.90002", "2607.90003"]
