"""Every digest on the web: `/archive/{token}` lists a subscriber's delivered digests and
`/archive/{token}/{YYYY-MM-DD}` shows one as it was sent — its papers, why each was
picked, their links and the 👍/👎 links — rebuilt from the delivery ledger, so past
digests keep working. The token is the subscriber's signed archive link (the "View in
your browser" link of every digest); a link whose subscriber is gone answers 410
(see `digest.web.links`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.records import Digest, Subscriber
from digest.render.views import DigestPlan, PaperView, paper_view, plan_digest
from digest.store.archive import PastDigest, archived_digest, past_digests
from digest.store.engine import transaction
from digest.web.links import BadLink, bad_link_page, open_link
from digest.web.views import Web, web_of


@dataclass(frozen=True, slots=True)
class ArchivedPaper:
    """One paper of an archived digest, as the page shows it."""

    view: PaperView
    reason: str
    more_url: str | None
    less_url: str | None


def past_digest_links(
    web: Web, sub: Subscriber, digests: list[PastDigest]
) -> list[dict[str, object]]:
    """(date, paper count, link) of each past digest, for the archive and preferences pages."""
    return [
        {
            "date": past.digest_date,
            "count": past.item_count,
            "url": web.links.archive(sub, past.digest_date),
        }
        for past in digests
    ]


def _past(web: Web, sub: Subscriber) -> list[PastDigest]:
    with transaction(web.engine) as session:
        return past_digests(session, sub.id)


def _digest(web: Web, sub: Subscriber, day: date) -> Digest | None:
    with transaction(web.engine) as session:
        return archived_digest(session, sub, day)


def _no_digest(web: Web, request: Request) -> Response:
    return web.message(
        request, "No digest that day", "No digest was delivered to you on that date.", 404
    )


async def index(request: Request) -> Response:
    web = web_of(request)
    try:
        link = await open_link(request, "archive")
    except BadLink as exc:  # a link whose subscriber is gone answers 410 here
        return bad_link_page(request, exc)
    sub = link.subscriber
    digests = await run_in_threadpool(_past, web, sub)
    return web.page(
        request,
        "archive.html",
        sub=sub,
        digests=past_digest_links(web, sub, digests),
        feed_url=web.links.feed(sub),
        no_store=True,
    )


def _papers(
    web: Web, sub: Subscriber, plan: DigestPlan
) -> list[tuple[str | None, list[ArchivedPaper]]]:
    groups = []
    for title, picks in plan.groups:
        shown = []
        for pick in picks:
            votes: list[str | None] = [None, None]
            if pick.paper.db_id is not None:
                votes = [
                    web.links.feedback(sub, pick.paper.db_id, 1),
                    web.links.feedback(sub, pick.paper.db_id, -1),
                ]
            shown.append(ArchivedPaper(paper_view(pick.paper), pick.reason, *votes))
        groups.append((title, shown))
    return groups


async def show(request: Request) -> Response:
    web = web_of(request)
    try:
        link = await open_link(request, "archive")
    except BadLink as exc:
        return bad_link_page(request, exc)
    try:
        day = date.fromisoformat(request.path_params["day"])
    except ValueError:
        return _no_digest(web, request)
    sub = link.subscriber
    digest = await run_in_threadpool(_digest, web, sub, day)
    if digest is None:
        return _no_digest(web, request)
    plan = plan_digest(digest)
    return web.page(
        request,
        "digest.html",
        sub=sub,
        digest=digest,
        plan=plan,
        groups=_papers(web, sub, plan),
        trending=[paper_view(paper) for paper in plan.trending],
        archive_url=web.links.archive(sub),
        no_store=True,
    )


routes = [
    Route("/archive/{token}", index, methods=["GET", "HEAD"]),
    Route("/archive/{token}/{day}", show, methods=["GET", "HEAD"]),
]
