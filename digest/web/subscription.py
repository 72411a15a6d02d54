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
from digest.store.signups import confirm_subscriber, unsubscribe
from digest.tokens import TokenData
from digest.web.links import BadLink, bad_link_page, link_subscriber, read_form_link, read_link
from digest.web.views import Web, web_of

log = logging.getLogger("digest.web")


async def confirm_page(request: Request) -> Response:
    web = web_of(request)
    try:
        data = read_link(web, "confirm", request.path_params["token"])
    except BadLink as exc:
        return bad_link_page(request, exc)
    sub = await run_in_threadpool(link_subscriber, web, data)
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
    checked = await read_form_link(request, "confirm")
    if isinstance(checked, Response):
        return checked
    data, _form = checked
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
    sub = await run_in_threadpool(link_subscriber, web, data)
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
