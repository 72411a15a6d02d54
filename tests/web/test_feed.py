"""The private Atom feed as a feed reader sees it: parsed with feedparser, checked against
the delivery ledger, polled with ETag and Last-Modified, and for a "feed only" subscriber
the way to read the digests at all (no email goes out, nothing is listed twice).
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta

import feedparser
import pytest
from sqlalchemy import Engine, select

from digest.pipeline.deliver import deliver_due
from digest.records import FeedEntry
from digest.render.links import LinkMaker
from digest.send.transport import SmtpTransport
from digest.store.deliveries import decode_items
from digest.store.engine import transaction
from digest.store.papers import ingest_entries
from digest.store.schema import DeliveryRow, PaperRow, SubscriberRow
from digest.store.subscribers import SubscriberInput, get_subscriber, upsert_subscriber
from tests.web.conftest import Site, both_databases, plain_text

TODAY = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
TOPICS = ("speculative decoding", "gaussian splatting")
WORDS = ("tree drafts", "edge devices", "medical scans", "street scenes", "long videos", "robots")


def add_papers(engine: Engine, when: datetime) -> None:
    """Four distinct papers on each topic, first seen at `when`."""
    tag = when.strftime("%m%d")
    entries = [
        FeedEntry(
            source="test",
            key=f"2612.{tag}{t}{n}",
            arxiv_id=f"2612.{tag}{t}{n}",
            title=f"{topic.capitalize()} for {WORDS[(n + when.day) % len(WORDS)]}, take {n}",
            abstract=f"We study {topic} for {WORDS[(n + when.day) % len(WORDS)]}. It works.",
            authors=(f"Author {t}{n}", "Grace Hopper"),
            categories=("cs.LG",),
            abs_url=f"https://arxiv.org/abs/2612.{tag}{t}{n}",
            published=when,
        )
        for t, topic in enumerate(TOPICS)
        for n in range(4)
    ]
    with transaction(engine) as session:
        ingest_entries(session, entries, now=when)


def subscribe(engine: Engine, address: str, *, feed_only: bool = False) -> None:
    with transaction(engine) as session:
        upsert_subscriber(
            session,
            SubscriberInput(
                email=address, topics=TOPICS, status="active", send_at="07:00", feed_only=feed_only
            ).validate(),
            default_timezone="UTC",
            default_send_at="07:00",
            now=TODAY - timedelta(days=60),
        )


def deliver(site: Site, now: datetime) -> None:
    async def run() -> None:
        transport = SmtpTransport(site.settings.smtp)
        try:
            await deliver_due(site.settings, site.engine, transport, now=now)
        finally:
            await transport.close()

    asyncio.run(run())


def ledger_papers(engine: Engine, address: str) -> dict[tuple[date, str], str]:
    """(digest date, paper key) → reason, for every paper the ledger says went out."""
    with transaction(engine) as session:
        rows = session.execute(
            select(DeliveryRow.digest_date, DeliveryRow.status, DeliveryRow.items)
            .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
            .where(SubscriberRow.email == address)
        ).all()
        keys = dict(session.execute(select(PaperRow.id, PaperRow.key)).all())
    return {
        (row.digest_date, keys[item.paper_id]): item.reason
        for row in rows
        if row.status in ("sent", "published")
        for item in decode_items(row.items)
    }


def feed_url_on_preferences(site: Site, address: str) -> str:
    """What a subscriber does: open the preferences page and copy the feed address."""
    with transaction(site.engine) as session:
        subscriber = get_subscriber(session, address)
    page = site.client.get(LinkMaker(site.settings).preferences(subscriber))
    match = re.search(r'<a href="([^"]+)" id="feed-url"', page.text)
    assert match, page.text
    return match[1]


def check_against_ledger(
    parsed: feedparser.FeedParserDict, ledger: dict[tuple[date, str], str]
) -> None:
    assert ledger, "nothing was sent"
    assert parsed.version == "atom10"
    assert not parsed.bozo, parsed.get("bozo_exception")
    seen = {}
    for entry in parsed.entries:
        key = entry.link.rsplit("/", 1)[-1]
        day = date(*entry.published_parsed[:3])
        seen[day, key] = entry
        assert entry.summary == f"Why this paper: {ledger[day, key]}"
        assert "Grace Hopper" in [author.name for author in entry.authors]
    assert set(seen) == set(ledger)
    assert len({entry.id for entry in parsed.entries}) == len(parsed.entries)
    days = [date(*entry.published_parsed[:3]) for entry in parsed.entries]
    assert days == sorted(days, reverse=True)  # newest first


@both_databases
def test_the_feed_lists_what_the_ledger_says_was_sent_and_answers_304(site: Site) -> None:
    subscribe(site.engine, "reader@example.org")
    old = TODAY - timedelta(days=40)
    add_papers(site.engine, old - timedelta(hours=3))
    deliver(site, old)  # forty days ago: too old for the feed
    for back in (2, 1):
        day = TODAY - timedelta(days=back)
        add_papers(site.engine, day - timedelta(hours=3))
        deliver(site, day)

    mails = site.messages_to("reader@example.org")
    assert len(mails) == 3
    text = plain_text(mails[-1])
    in_mail = re.search(r"Your private feed \(for a feed reader\): (\S+)", text)
    assert in_mail
    url = feed_url_on_preferences(site, "reader@example.org")
    assert url.split("/feed/")[0] == in_mail[1].split("/feed/")[0]

    first = site.client.get(url)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(first.content)
    ledger = ledger_papers(site.engine, "reader@example.org")
    recent = {k: v for k, v in ledger.items() if k[0] > (TODAY - timedelta(days=30)).date()}
    assert len(recent) < len(ledger)  # the old digest is in the ledger, not in the feed
    check_against_ledger(parsed, recent)
    ids = [entry.id for entry in parsed.entries]

    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = site.client.get(url, headers={"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == etag
    assert site.client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    stale = site.client.get(url, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200

    add_papers(site.engine, TODAY - timedelta(hours=3))
    deliver(site, TODAY)
    newer = site.client.get(url, headers={"If-None-Match": etag, "If-Modified-Since": modified})
    assert newer.status_code == 200  # a new digest changed the feed
    parsed = feedparser.parse(newer.content)
    today_ledger = ledger_papers(site.engine, "reader@example.org")
    check_against_ledger(
        parsed, {k: v for k, v in today_ledger.items() if k in recent or k[0] == TODAY.date()}
    )
    assert [entry.id for entry in parsed.entries][-len(ids) :] == ids  # ids are stable


def test_feed_only_subscribers_get_no_email_and_never_the_same_paper_twice(site: Site) -> None:
    subscribe(site.engine, "feeds@example.org", feed_only=True)
    for back in (2, 1, 0):
        day = TODAY - timedelta(days=back)
        add_papers(site.engine, day - timedelta(hours=3))
        deliver(site, day)
    assert site.messages_to("feeds@example.org") == []
    with transaction(site.engine) as session:
        statuses = session.scalars(select(DeliveryRow.status)).all()
    assert statuses == ["published"] * 3
    parsed = feedparser.parse(
        site.client.get(feed_url_on_preferences(site, "feeds@example.org")).content
    )
    check_against_ledger(parsed, ledger_papers(site.engine, "feeds@example.org"))
    links = [entry.link for entry in parsed.entries]
    assert len(links) == len(set(links)) > 3


def test_a_feed_of_an_erased_subscriber_answers_410_and_a_cut_link_400(site: Site) -> None:
    subscribe(site.engine, "gone@example.org")
    url = feed_url_on_preferences(site, "gone@example.org")
    assert site.client.get(url).status_code == 200
    assert site.client.get(url[:-3]).status_code == 400
    wrong_purpose = site.client.get(url.replace("/feed/", "/archive/"))
    assert wrong_purpose.status_code in (400, 410)  # acts on nobody
    assert "gone@example.org" not in wrong_purpose.text
    with transaction(site.engine) as session:
        row = session.scalar(select(SubscriberRow).where(SubscriberRow.email == "gone@example.org"))
        assert row is not None
        session.delete(row)
    assert site.client.get(url).status_code == 410


@pytest.mark.parametrize("header", ["If-Modified-Since", "If-None-Match"])
def test_garbage_validators_get_the_whole_feed(site: Site, header: str) -> None:
    subscribe(site.engine, "reader@example.org")
    url = feed_url_on_preferences(site, "reader@example.org")
    assert site.client.get(url, headers={header: "not a date, not a tag"}).status_code == 200
