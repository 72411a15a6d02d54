"""Confirming and ending a subscription from the links in emails.

- `GET /confirm/{token}` shows a button; only its POST confirms (mail scanners that fetch
  links confirm nothing). Confirm links expire after 72 hours.
- `/unsubscribe/{token}`: a GET shows a one-button page; a POST unsubscribes. The POST is
  also the RFC 8058 one-click unsubscribe a mail client sends for `List-Unsubscribe-Post`:
  no login, no CSRF token, idempotent, answered 200 without a redirect.

Links of an erased subscriber, or of a subscription since started anew, answer 410.
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
from digest.web.links import BadLink, Link, bad_link_page, open_form_link, open_link
from digest.web.views import Web, web_of

log = logging.getLogger("digest.web")


async def confirm_page(request: Request) -> Response:
    web = web_of(request)
    try:
        sub = (await open_link(request, "confirm")).subscriber
    except BadLink as exc:
        return bad_link_page(request, exc)
    if sub.status in ("unsubscribed", "bounced"):
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


def _confirm(web: Web, link: Link) -> tuple[str, Subscriber] | None:
    with transaction(web.engine) as session:
        return confirm_subscriber(session, link.subscriber.id, link.subscriber.link_secret)


async def confirm(request: Request) -> Response:
    web = web_of(request)
    checked = await open_form_link(request, "confirm")
    if isinstance(checked, Response):
        return checked
    link, _form = checked
    outcome = await run_in_threadpool(_confirm, web, link)
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
        preferences_url=web.links.preferences(sub),
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
        sub = (await open_link(request, "unsubscribe")).subscriber
    except BadLink as exc:
        return bad_link_page(request, exc)
    if sub.status in ("unsubscribed", "bounced"):
        return _unsubscribed_page(web, request)
    return web.page(request, "unsubscribe.html", email=sub.email, no_store=True)


def _unsubscribed_page(web: Web, request: Request) -> Response:
    return web.message(
        request,
        "You are unsubscribed",
        "You will get no more digests. Changed your mind? Sign up again on the front page.",
    )


def _unsubscribe(web: Web, link: Link) -> tuple[bool, Subscriber] | None:
    with transaction(web.engine) as session:
        return unsubscribe(session, link.subscriber.id, link.subscriber.link_secret)


async def unsubscribe_now(request: Request) -> Response:
    """The page's button and the RFC 8058 one-click POST (no CSRF token by design)."""
    web = web_of(request)
    try:
        link = await open_link(request, "unsubscribe")
    except BadLink as exc:
        return bad_link_page(request, exc)
    form = await request.form()
    outcome = await run_in_threadpool(_unsubscribe, web, link)
    if outcome is None:  # erased or signed up anew since the link was checked
        return bad_link_page(request, BadLink("stale link", gone=True))
    if outcome[0] and form.get("source") == "page":
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
