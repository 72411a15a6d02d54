"""Confirming and ending a subscription from the links in emails.

- `GET /confirm/{token}` shows a button; only its POST confirms (mail scanners that fetch
  links confirm nothing). Confirm links expire after 72 hours.
- `/unsubscribe/{token}`: a GET shows a one-button page; a POST unsubscribes. The POST is
  also the RFC 8058 one-click unsubscribe a mail client sends for `List-Unsubscribe-Post`:
  no login, no CSRF token, idempotent, answered 200 without a redirect.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.errors import TransportError
from digest.records import Subscriber
from digest.store.engine import transaction
from digest.store.signups import confirm_subscriber, subscriber_for_link, unsubscribe
from digest.tokens import Purpose, TokenData, TokenError, read_token
from digest.web.csrf import FIELD, CsrfError
from digest.web.views import Web, web_of

MAX_TOKEN_CHARS = 400
log = logging.getLogger("digest.web")


class BadLink(Exception):
    """A link whose token is forged, truncated, for another purpose or expired."""

    def __init__(self, message: str, *, expired: bool) -> None:
        super().__init__(message)
        self.expired = expired


def read_link(web: Web, purpose: Purpose, token: str) -> TokenData:
    if len(token) > MAX_TOKEN_CHARS:
        raise BadLink("this link is not valid", expired=False)
    try:
        return read_token(web.secret, purpose, token)
    except TokenError as exc:
        raise BadLink(str(exc), expired=exc.expired) from None


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
    return web.message(
        request,
        "This link is not valid",
        "The link may be incomplete (some mail programs break long links) or meant for "
        "something else. Copy the whole link from the email into the address bar.",
        400,
    )


def _lookup(web: Web, data: TokenData) -> Subscriber | None:
    with transaction(web.engine) as session:
        return subscriber_for_link(session, data.subscriber_id, data.version)


async def confirm_page(request: Request) -> Response:
    web = web_of(request)
    try:
        data = read_link(web, "confirm", request.path_params["token"])
    except BadLink as exc:
        return bad_link_page(request, exc)
    sub = await run_in_threadpool(_lookup, web, data)
    if sub is None or sub.status in ("unsubscribed", "bounced"):
        return _closed_page(web, request)
    if sub.status != "pending":
        return web.message(
            request, "You are already subscribed", "Your daily digest is on its way."
        )
    return web.page(request, "confirm.html", email=sub.email, topics=sub.topics, no_store=True)


def _closed_page(web: Web, request: Request) -> Response:
    return web.message(
        request,
        "This link is no longer valid",
        "This subscription was ended or removed. Sign up again on the front page to "
        "start a new one.",
        410,
    )


def _confirm(web: Web, data: TokenData) -> tuple[str, Subscriber] | None:
    with transaction(web.engine) as session:
        return confirm_subscriber(session, data.subscriber_id, data.version)


async def confirm(request: Request) -> Response:
    web = web_of(request)
    form = await request.form()
    try:
        data = read_link(web, "confirm", request.path_params["token"])
        web.csrf.check(request, form.get(FIELD))
    except BadLink as exc:
        return bad_link_page(request, exc)
    except CsrfError as exc:
        return web.message(request, "Please try again", f"The form could not be sent: {exc}.", 403)
    outcome = await run_in_threadpool(_confirm, web, data)
    if outcome is None or outcome[0] == "closed":
        return _closed_page(web, request)
    state, sub = outcome
    if state == "confirmed":
        await _send_welcome(web, sub)
    return web.page(
        request,
        "confirmed.html",
        email=sub.email,
        topics=sub.topics,
        send_at=sub.send_at.strftime("%H:%M"),
        timezone=sub.timezone,
        preferences_url=web.links.preferences(sub.id, sub.token_version),
        no_store=True,
    )


async def _send_welcome(web: Web, sub: Subscriber) -> None:
    try:
        await web.transport.send(web.renderer().render_welcome(sub))
    except TransportError as exc:  # the subscription stands; the welcome is a courtesy
        log.warning("could not send the welcome email to subscriber %s: %s", sub.id, exc)


async def unsubscribe_page(request: Request) -> Response:
    web = web_of(request)
    try:
        data = read_link(web, "unsubscribe", request.path_params["token"])
    except BadLink as exc:
        return bad_link_page(request, exc)
    sub = await run_in_threadpool(_lookup, web, data)
    if sub is None or sub.status in ("unsubscribed", "bounced"):
        return _unsubscribed_page(web, request)
    return web.page(request, "unsubscribe.html", email=sub.email, no_store=True)


def _unsubscribed_page(web: Web, request: Request) -> Response:
    return web.message(
        request,
        "You are unsubscribed",
        "You will get no more digests. Changed your mind? Sign up again on the front page.",
    )


def _unsubscribe(web: Web, data: TokenData) -> tuple[bool, Subscriber] | None:
    with transaction(web.engine) as session:
        return unsubscribe(session, data.subscriber_id, data.version)


async def unsubscribe_now(request: Request) -> Response:
    """The page's button and the RFC 8058 one-click POST (no CSRF token by design)."""
    web = web_of(request)
    try:
        data = read_link(web, "unsubscribe", request.path_params["token"])
    except BadLink as exc:
        return bad_link_page(request, exc)
    form = await request.form()
    outcome = await run_in_threadpool(_unsubscribe, web, data)
    if outcome is not None and outcome[0] and form.get("source") == "page":
        await _send_goodbye(web, outcome[1])
    return _unsubscribed_page(web, request)


async def _send_goodbye(web: Web, sub: Subscriber) -> None:
    try:
        await web.transport.send(web.renderer().render_goodbye(sub))
    except TransportError as exc:
        log.warning("could not send the goodbye email to subscriber %s: %s", sub.id, exc)


routes = [
    Route("/confirm/{token}", confirm_page, methods=["GET", "HEAD"]),
    Route("/confirm/{token}", confirm, methods=["POST"]),
    Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET", "HEAD"]),
    Route("/unsubscribe/{token}", unsubscribe_now, methods=["POST"]),
]
