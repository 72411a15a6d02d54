"""Daily and weekly digests over days of a clock we set: what reaches the SMTP server.

Every morning new papers arrive; every day the service delivers what is due. A daily
subscriber gets a digest each day, a weekly one only on their weekday (their other days
leave no ledger row), holding the best papers since their previous digest, grouped by
topic, with a subject that says it is weekly and which days it covers. Nobody ever gets
the same paper twice.
"""

from __future__ import annotations

import asyncio
import email
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import Message

from sqlalchemy import Engine

from digest.config import Settings, load_settings
from digest.pipeline.deliver import deliver_due
from digest.records import FeedEntry
from digest.send.loop import DeliveryReport
from digest.send.transport import SmtpTransport
from digest.store.delivery_reads import ledger_entries
from digest.store.engine import transaction
from digest.store.papers import ingest_entries
from digest.store.subscribers import SubscriberInput, upsert_subscriber
from tests.send.scenario import smtp_settings
from tests.send.smtpd import FaultySmtpServer

MONDAY = date(2026, 7, 6)
TOPICS = ("speculative decoding", "gaussian splatting", "protein folding")
# Words that make each day's papers distinct (near-duplicates would be merged by ranking).
METHODS = (
    "sparse attention",
    "contrastive pretraining",
    "curriculum schedules",
    "mixture of experts",
    "token pruning",
    "graph message passing",
    "energy based training",
    "low rank adapters",
    "bayesian calibration",
    "distillation",
    "retrieval augmentation",
    "active sampling",
)
SETTINGS = (
    "edge devices",
    "clinical records",
    "autonomous driving",
    "satellite imagery",
    "low resource languages",
    "robotic grasping",
    "weather forecasting",
    "chip design",
    "legal documents",
    "molecular screening",
    "music generation",
    "video games",
)
ABS_LINK = re.compile(r"https://arxiv\.org/abs/(\d{4}\.\d{5})")


def morning(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 5, 0, tzinfo=UTC)


def add_days_papers(engine: Engine, day: date, per_topic: int = 3) -> set[str]:
    """`per_topic` new papers on each topic, first seen on the morning of `day`."""
    number = (day - MONDAY).days
    entries = []
    for t, topic in enumerate(TOPICS):
        for n in range(per_topic):
            key = f"2607.{number:02d}{t}{n:02d}"
            method = METHODS[(number * per_topic + n) % len(METHODS)]
            where = SETTINGS[(number * 5 + n * 7 + t) % len(SETTINGS)]
            entries.append(
                FeedEntry(
                    source="test",
                    key=key,
                    arxiv_id=key,
                    title=f"{topic.capitalize()} with {method} for {where}",
                    abstract=f"We study {topic} using {method}, evaluated on {where}.",
                    authors=(f"Author {number}{t}{n}",),
                    categories=("cs.LG",),
                    abs_url=f"https://arxiv.org/abs/{key}",
                    published=morning(day),
                )
            )
    with transaction(engine) as session:
        ingest_entries(session, entries, now=morning(day))
    return {entry.key for entry in entries}


def subscribe(
    engine: Engine,
    address: str,
    topics: tuple[str, ...],
    frequency: str | None = None,
    weekday: str | None = None,
) -> None:
    with transaction(engine) as session:
        upsert_subscriber(
            session,
            SubscriberInput(
                email=address,
                topics=topics,
                status="active",
                send_at="07:00",
                frequency=frequency,
                weekday=weekday,
            ).validate(),
            default_timezone="UTC",
            default_send_at="07:00",
            now=morning(MONDAY - timedelta(days=1)),
        )


def deliver(settings: Settings, engine: Engine, now: datetime) -> DeliveryReport:
    async def run() -> DeliveryReport:
        transport = SmtpTransport(settings.smtp)
        try:
            return await deliver_due(settings, engine, transport, now=now)
        finally:
            await transport.close()

    return asyncio.run(run())


@dataclass(frozen=True)
class Received:
    to: str
    subject: str
    papers: tuple[str, ...]
    text: str


def received(server: FaultySmtpServer) -> list[Received]:
    messages = []
    for item in server.received:
        message = email.message_from_bytes(item.data, policy=policy.default)
        text = _part(message, "text/plain")
        messages.append(
            Received(item.rcpt_to, str(message["Subject"]), tuple(ABS_LINK.findall(text)), text)
        )
    return messages


def _part(message: Message, kind: str) -> str:
    for part in message.walk():
        if part.get_content_type() == kind:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError(f"no {kind} part")


def test_a_week_of_days_for_daily_and_weekly_subscribers(
    engine: Engine, settings: Settings, smtp_server: FaultySmtpServer
) -> None:
    data = settings.model_dump(exclude={"config_file"})
    data["digest"] = {"max_items_weekly": 6}
    settings = smtp_settings(load_settings(**data), smtp_server.host, smtp_server.port)
    all_topics = tuple(TOPICS)
    subscribe(engine, "daily@example.org", ("speculative decoding",))
    subscribe(engine, "monday@example.org", all_topics, frequency="weekly", weekday="mon")
    subscribe(engine, "thursday@example.org", all_topics, frequency="weekly", weekday="thu")
    subscribe(engine, "switcher@example.org", ("gaussian splatting",))
    papers_of_day: dict[date, set[str]] = {}
    per_day: list[Counter[str]] = []
    for offset in range(8):  # Monday to the next Monday
        day = MONDAY + timedelta(days=offset)
        papers_of_day[day] = add_days_papers(engine, day)
        if offset == 3:  # Thursday morning: the switcher goes weekly, on Mondays
            subscribe(engine, "switcher@example.org", ("gaussian splatting",), frequency="weekly")
        before = len(smtp_server.received)
        report = deliver(settings, engine, now=morning(day) + timedelta(hours=4))
        assert report.failed == report.retry == report.unknown == 0
        per_day.append(Counter(m.rcpt_to for m in smtp_server.received[before:]))

    # Exactly the digests expected, day by day.
    daily_only = Counter({"daily@example.org": 1})
    assert per_day[0] == daily_only + Counter({"monday@example.org": 1, "switcher@example.org": 1})
    assert per_day[1] == per_day[2] == daily_only + Counter({"switcher@example.org": 1})
    assert per_day[3] == daily_only + Counter({"thursday@example.org": 1})
    assert per_day[4] == per_day[5] == per_day[6] == daily_only
    assert per_day[7] == daily_only + Counter({"monday@example.org": 1, "switcher@example.org": 1})

    # The ledger: one row per digest, none on a weekly subscriber's other days.
    with transaction(engine) as session:
        rows = defaultdict(list)
        for entry in ledger_entries(session):
            rows[entry.email].append(entry.digest_date)
    assert len(rows["daily@example.org"]) == 8
    assert rows["monday@example.org"] == [MONDAY, MONDAY + timedelta(days=7)]
    assert rows["thursday@example.org"] == [MONDAY + timedelta(days=3)]
    assert rows["switcher@example.org"] == [MONDAY + timedelta(days=n) for n in (0, 1, 2, 7)]

    messages = received(smtp_server)
    # Nobody gets the same paper twice.
    for address in rows:
        theirs = [paper for m in messages if m.to == address for paper in m.papers]
        assert theirs, address
        assert len(theirs) == len(set(theirs)), address

    weekly = [m for m in messages if m.to == "monday@example.org"]
    first, second = weekly
    # The subject says it is weekly and which days it covers; at most max_items_weekly.
    assert first.subject.startswith("Weekly digest, 29 Jun – 6 Jul: ")
    assert second.subject.startswith("Weekly digest, 6–13 Jul: 6 new papers on")
    assert len(second.papers) == 6
    # The second holds the week's papers since the first (Tuesday's to Monday's), by topic.
    second_week = set().union(*(papers_of_day[MONDAY + timedelta(days=n)] for n in range(1, 8)))
    assert set(second.papers) <= second_week
    headings = [topic for topic in TOPICS if f"== {topic} ==" in second.text]
    assert len(headings) >= 2
    # The switcher's weekly digest starts after their last daily one (Wednesday's).
    switched = [m for m in messages if m.to == "switcher@example.org"][-1]
    assert switched.subject.startswith("Weekly digest, 8–13 Jul:")
    earlier = set().union(*(papers_of_day[MONDAY + timedelta(days=n)] for n in range(2)))
    assert not set(switched.papers) & earlier
