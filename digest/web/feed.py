"""A subscriber's private Atom feed: `/feed/{token}`.

The token is the subscriber's signed feed link (on the preferences page and in the footer
of every digest); the feed lists the papers delivered to them in the last 30 days (see
`digest.render.feed`), so a feed reader can stand in for email ("feed only"). Readers poll,
so the answer carries an `ETag` and `Last-Modified` (the latest delivery in it), and a
request that presents either unchanged gets `304 Not Modified`. The ETag is weak: a hash
of what the feed lists (its entries and why each was picked), not of its bytes, which
differ from one request to the next in the freshly signed archive link. `If-None-Match`
wins over `If-Modified-Since`, as RFC 9110 says. A link whose subscriber is gone answers
410.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.records import FeedItem, Subscriber
from digest.render.feed import FEED_DAYS, FeedInfo, feed_xml
from digest.send.due import local_date
from digest.store.archive import feed_items
from digest.store.engine import transaction
from digest.web.links import BadLink, bad_link_page, open_link
from digest.web.views import Web, web_of

MEDIA_TYPE = "application/atom+xml; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Feed:
    body: bytes
    etag: str
    last_modified: datetime


def _items(web: Web, sub: Subscriber) -> list[FeedItem]:
    since = local_date(datetime.now(UTC), sub.timezone) - timedelta(days=FEED_DAYS)
    with transaction(web.engine) as session:
        return feed_items(session, sub.id, since=since)


def _feed(web: Web, request: Request, sub: Subscriber, items: list[FeedItem]) -> Feed:
    created = sub.confirmed_at or sub.created_at or datetime(2026, 1, 1, tzinfo=UTC)
    info = FeedInfo(
        feed_id=f"tag:{web.settings.mail.domain},{created:%Y-%m-%d}:feed/{sub.id}",
        title=f"{web.settings.mail.from_name} for {sub.email}",
        self_url=str(request.url),
        archive_url=web.links.archive(sub),
        domain=web.settings.mail.domain,
        created=created,
    )
    modified = max((item.delivered_at for item in items), default=created)
    return Feed(feed_xml(info, items), _etag(sub, items), modified.replace(microsecond=0))


def _etag(sub: Subscriber, items: list[FeedItem]) -> str:
    """A weak validator of what the feed lists (see the module docstring)."""
    listed = [sub.id, sub.email] + [
        [item.digest_date.isoformat(), item.paper.id, item.paper.title, item.reason]
        for item in items
    ]
    digest = hashlib.sha256(json.dumps(listed, ensure_ascii=False).encode()).hexdigest()
    return f'W/"{digest[:32]}"'


def _not_modified(request: Request, feed: Feed) -> bool:
    """Whether the reader's copy is current (RFC 9110 §13.1.2 and §13.1.3)."""
    tags = request.headers.get("if-none-match")
    if tags is not None:
        offered = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
        return "*" in offered or feed.etag.removeprefix("W/") in offered  # weak comparison
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False  # an unreadable date is ignored, as the RFC asks
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return feed.last_modified <= moment


async def show(request: Request) -> Response:
    web = web_of(request)
    try:
        link = await open_link(request, "feed")
    except BadLink as exc:  # a link whose subscriber is gone answers 410 here
        return bad_link_page(request, exc)
    items = await run_in_threadpool(_items, web, link.subscriber)
    feed = await run_in_threadpool(_feed, web, request, link.subscriber, items)
    headers = {
        "etag": feed.etag,
        "last-modified": format_datetime(feed.last_modified, usegmt=True),
        "cache-control": "private, no-cache",
    }
    if _not_modified(request, feed):
        return Response(status_code=304, headers=headers)
    return Response(feed.body, media_type=MEDIA_TYPE, headers=headers)


routes = [Route("/feed/{token}", show, methods=["GET", "HEAD"])]
