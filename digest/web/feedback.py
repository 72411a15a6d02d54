"""The 👍 / 👎 links under each paper of a digest: `/feedback/{token}`.

Opening the link records the vote the token carries (no login; the latest vote on a paper
wins, so opening it twice changes nothing). The page thanks the reader and offers, as a
CSRF-protected form, to change or withdraw the vote. Ranking reads the votes through
`digest.store.feedback.feedback_for`.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.errors import NotFound
from digest.records import Paper
from digest.store.engine import transaction
from digest.store.feedback import record_vote
from digest.store.signups import subscriber_for_link
from digest.tokens import TokenData
from digest.web.links import BadLink, bad_link_page, read_form_link, read_link
from digest.web.views import Web, web_of


def _vote(web: Web, data: TokenData, vote: int) -> Paper | None:
    with transaction(web.engine) as session:
        if data.paper_id is None or not (
            subscriber_for_link(session, data.subscriber_id, data.version)
        ):
            return None
        try:
            return record_vote(session, data.subscriber_id, data.paper_id, vote)
        except NotFound:
            return None


def _thanks(web: Web, request: Request, paper: Paper, vote: int) -> Response:
    return web.page(
        request,
        "feedback.html",
        paper=paper,
        vote=vote,
        token=request.path_params["token"],
        no_store=True,
    )


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
        data = read_link(web, "feedback", request.path_params["token"])
    except BadLink as exc:
        return bad_link_page(request, exc)
    vote = 1 if (data.vote or 0) > 0 else -1
    if request.method == "HEAD":  # link checkers probe with HEAD: record nothing
        return Response(status_code=200, media_type="text/html")
    paper = await run_in_threadpool(_vote, web, data, vote)
    if paper is None:
        return _gone(web, request)
    return _thanks(web, request, paper, vote)


async def change_vote(request: Request) -> Response:
    web = web_of(request)
    checked = await read_form_link(request, "feedback")
    if isinstance(checked, Response):
        return checked
    data, form = checked
    choice = {"up": 1, "down": -1, "none": 0}.get(str(form.get("vote", "")))
    if choice is None:
        return web.message(request, "Unknown choice", "Choose 👍, 👎 or no vote.", 400)
    paper = await run_in_threadpool(_vote, web, data, choice)
    if paper is None:
        return _gone(web, request)
    return _thanks(web, request, paper, choice)


routes = [
    Route("/feedback/{token}", vote_from_link, methods=["GET", "HEAD"]),
    Route("/feedback/{token}", change_vote, methods=["POST"]),
]
