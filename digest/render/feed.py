"""A subscriber's private Atom feed (RFC 4287), written with feedgen.

One entry per paper sent in the feed's window, newest digest first: the paper's title,
its abstract page, its authors, why it was picked (the summary), Hugging Face's one-line
summary or else an excerpt of the abstract (the content), and the digest's date. An
entry's id is a tag URI (RFC 4151) made of the mail domain, the digest date and the
paper's key, so it never changes once the paper went out.

    atom = feed_xml(FeedInfo(...), items)    # bytes, UTF-8
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from feedgen.feed import FeedGenerator

from digest.records import FeedItem
from digest.render.text import excerpt, one_line
from digest.render.views import paper_view

FEED_DAYS = 30  # the feed lists the papers of the digests of the last 30 days


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """What the feed says about itself: its stable id, title, and its own and web addresses."""

    feed_id: str
    title: str
    self_url: str
    archive_url: str
    domain: str
    created: datetime


def _as_instant(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def entry_id(domain: str, digest_date: date, paper_key: str) -> str:
    """`tag:example.org,2026-07-06:2607.01234`: stable for a paper sent on a date."""
    return f"tag:{domain},{digest_date.isoformat()}:{paper_key}"


def feed_xml(info: FeedInfo, items: Sequence[FeedItem]) -> bytes:
    """The Atom document of `items` (given newest first)."""
    feed = FeedGenerator()
    feed.id(info.feed_id)
    feed.title(info.title)
    feed.subtitle("The papers of your digests, newest first, with why each was picked.")
    feed.link(href=info.self_url, rel="self", type="application/atom+xml")
    feed.link(href=info.archive_url, rel="alternate", type="text/html")
    feed.author({"name": info.title})
    feed.generator("Paper Digest")
    feed.updated(max((item.delivered_at for item in items), default=info.created))
    for item in items:
        _add_entry(feed, info.domain, item)
    xml: bytes = feed.atom_str(pretty=True, encoding="UTF-8")
    return xml


def _add_entry(feed: FeedGenerator, domain: str, item: FeedItem) -> None:
    paper, view = item.paper, paper_view(item.paper)
    entry = feed.add_entry(order="append")
    entry.id(entry_id(domain, item.digest_date, paper.id))
    entry.title(view.title)
    if view.url:
        entry.link(href=view.url, rel="alternate", type="text/html")
    for name in paper.authors[:20] or ("Unknown",):
        entry.author({"name": one_line(name) or "Unknown"})
    entry.published(_as_instant(item.digest_date))
    entry.updated(item.delivered_at)
    if item.reason:
        entry.summary(f"Why this paper: {one_line(item.reason)}")
    if view.summary:
        entry.content(f"Hugging Face's summary: {view.summary}", type="text")
    elif paper.abstract:
        entry.content(excerpt(paper.abstract, sentences=3, limit=600), type="text")
    day = item.digest_date
    entry.category(term=f"digest-{day.isoformat()}", label=f"Digest of {day:%-d %B %Y}")
