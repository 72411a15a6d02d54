"""The 👍 / 👎 links under each paper of a digest: `/feedback/{token}/{paper id}/up|down`.

The token names the subscriber (one per email); the paper and the vote are in the path.
Opening the link records the vote (no login; the latest vote on a paper wins, so opening
it twice changes nothing). The page thanks the reader and offers, as a CSRF-protected form
posted back to the same URL, to change or withdraw the vote. Links of the earlier kind,
`/feedback/{token}` with the paper and the vote inside the token, keep working. Ranking
reads the votes through `digest.store.feedback.feedback_for`.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.errors import NotFound
from digest.records import Paper, Subscriber
from digest.render.links import VOTES
from digest.store.engine import transaction
from digest.store.feedback import record_vote
from digest.store.signups import link_still_current
from digest.web.links import BadLink, Link, bad_link_page, open_form_link, open_link
from digest.web.views import Web, web_of

MAX_PAPER_ID = 2**31 - 1  # the column is a 32-bit integer


def _vote(web: Web, sub: Subscriber, paper_id: int, vote: int) -> Paper | None:
    if not 0 < paper_id <= MAX_PAPER_ID:
        return None
    with transaction(web.engine) as session:
        if not link_still_current(session, sub.id, sub.link_secret):
            return None
        try:
            return record_vote(session, sub.id, paper_id, vote)
        except NotFound:
            return None


def _voted_on(request: Request, link: Link) -> tuple[int, int] | None:
    """(paper id, vote) of the link: from the path, or inside an old-style token."""
    if "paper" not in request.path_params:
        if link.data.paper_id is None:
            return None
        return link.data.paper_id, 1 if (link.data.vote or 0) > 0 else -1
    vote = VOTES.get(request.path_params["vote"])
    return None if vote is None else (request.path_params["paper"], vote)


def _thanks(web: Web, request: Request, paper: Paper, vote: int) -> Response:
    return web.page(request, "feedback.html", paper=paper, vote=vote, no_store=True)


def _gone(web: Web, request: Request) -> Response:
    return web.message(
        request,
        "This vote cannot be recorded",
        "The paper or the subscription it belongs to is no longer in the digest.",
        410,
    )


async def vote_from_link(request: Request) -> Response:
    web = web_of(request)
    try:
        link = await open_link(request, "feedback")
    except BadLink as exc:
        return bad_link_page(request, exc)
    voted = _voted_on(request, link)
    if voted is None:
        return bad_link_page(request, BadLink("no paper or vote in the link"))
    if request.method == "HEAD":  # link checkers probe with HEAD: record nothing
        return Response(status_code=200, media_type="text/html")
    paper = await run_in_threadpool(_vote, web, link.subscriber, *voted)
    if paper is None:
        return _gone(web, request)
    return _thanks(web, request, paper, voted[1])


async def change_vote(request: Request) -> Response:
    web = web_of(request)
    checked = await open_form_link(request, "feedback")
    if isinstance(checked, Response):
        return checked
    link, form = checked
    voted = _voted_on(request, link)
    choice = {"up": 1, "down": -1, "none": 0}.get(str(form.get("vote", "")))
    if voted is None:
        return bad_link_page(request, BadLink("no paper or vote in the link"))
    if choice is None:
        return web.message(request, "Unknown choice", "Choose 👍, 👎 or no vote.", 400)
    paper = await run_in_threadpool(_vote, web, link.subscriber, voted[0], choice)
    if paper is None:
        return _gone(web, request)
    return _thanks(web, request, paper, choice)


routes = [
    Route("/feedback/{token}/{paper:int}/{vote}", vote_from_link, methods=["GET", "HEAD"]),
    Route("/feedback/{token}/{paper:int}/{vote}", change_vote, methods=["POST"]),
    Route("/feedback/{token}", vote_from_link, methods=["GET", "HEAD"]),
    Route("/feedback/{token}", change_vote, methods=["POST"]),
]
