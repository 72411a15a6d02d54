"""Reading the signed links of emails: the token in the path, and for forms the CSRF field.

Every page reached from an email link starts here, so forged, truncated, foreign,
expired and stale tokens, and a form without its CSRF token, get the same clear pages
everywhere: a malformed link answers 400; a link whose subscriber was erased, or has
signed up anew since (see `digest.tokens`), answers 410 with a plain page that names
nobody; an expired confirmation answers 410 and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from digest.records import Subscriber
from digest.store.engine import transaction
from digest.store.subscribers import subscriber_by_id
from digest.tokens import Purpose, TokenData, TokenError, claim_owner, read_claim
from digest.web.csrf import FIELD, CsrfError
from digest.web.views import Web, web_of

MAX_TOKEN_CHARS = 400


class BadLink(TokenError):
    """A link that acts on nobody: `expired`, `gone` (stale) or else malformed."""


@dataclass(frozen=True, slots=True)
class Link:
    """A checked link: what its token carried and the subscriber it was made for."""

    data: TokenData
    subscriber: Subscriber


def _open(web: Web, purpose: Purpose, token: str) -> Link:
    if len(token) > MAX_TOKEN_CHARS:
        raise BadLink("this link is not valid")
    try:
        claim = read_claim(web.secret, purpose, token)
        with transaction(web.engine) as session:
            found = subscriber_by_id(session, claim.subscriber_id)
        data, subscriber = claim_owner(web.secret, claim, found)
    except TokenError as exc:
        raise BadLink(str(exc), expired=exc.expired, gone=exc.gone) from None
    return Link(data, subscriber)


async def open_link(request: Request, purpose: Purpose) -> Link:
    """The request's link (`token` in the path), checked; BadLink if it acts on nobody."""
    return await run_in_threadpool(_open, web_of(request), purpose, request.path_params["token"])


def bad_link_page(request: Request, exc: BadLink) -> Response:
    web = web_of(request)
    if exc.expired:
        return web.message(
            request,
            "This link has expired",
            "Confirmation links work for 72 hours. Sign up again on the front page "
            "to get a fresh one.",
            410,
        )
    if exc.gone:
        return gone_page(web, request)
    return web.message(
        request,
        "This link is not valid",
        "The link may be incomplete (some mail programs break long links) or meant for "
        "something else. Copy the whole link from the email into the address bar.",
        400,
    )


def gone_page(web: Web, request: Request) -> Response:
    """410 for a link whose subscription no longer exists: it says nothing about anyone."""
    return web.message(
        request,
        "This link no longer works",
        "The subscription it was made for has ended or was removed. Sign up again on the "
        "front page to start a new one.",
        410,
    )


def csrf_failed_page(web: Web, request: Request, exc: CsrfError) -> Response:
    return web.message(request, "Please try again", f"The form could not be sent: {exc}.", 403)


async def open_form_link(request: Request, purpose: Purpose) -> tuple[Link, FormData] | Response:
    """The checked link and the posted form, or the page to answer with when either the
    link or the form's CSRF token is not valid."""
    web = web_of(request)
    form = await request.form()
    try:
        link = await open_link(request, purpose)
        web.csrf.check(request, form.get(FIELD))
    except BadLink as exc:
        return bad_link_page(request, exc)
    except CsrfError as exc:
        return csrf_failed_page(web, request, exc)
    return link, form
