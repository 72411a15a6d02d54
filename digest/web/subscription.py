"""Confirming and ending a subscription from the links in emails.

- `GET /confirm/{token}` shows a button; only its POST confirms (mail scanners that fetch
  links confirm nothing). Confirm links expire after 72 hours.
- `/unsubscribe/{token}`: a GET shows a one-button page; a POST unsubscribes. The POST is
  also the RFC 8058 one-click unsubscribe a mail client sends for `List-Unsubscribe-Post`:
  no login, no CSRF token, idempotent, answered 200 without a redirect.

Links of an erased subscriber, or of a subscription since started anew, answer 410.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.pipeline.signup import confirm_subscription, end_subscription
from digest.web.links import BadLink, bad_link_page, open_form_link, open_link
from digest.web.views import Web, web_of


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


async def confirm(request: Request) -> Response:
    web = web_of(request)
    checked = await open_form_link(request, "confirm")
    if isinstance(checked, Response):
        return checked
    link, _form = checked
    outcome = await confirm_subscription(web.engine, web.transport, web.renderer(), link.subscriber)
    if outcome is None or outcome[0] == "closed":
        return _closed_page(web, request)
    sub = outcome[1]
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


async def unsubscribe_now(request: Request) -> Response:
    """The page's button and the RFC 8058 one-click POST (no CSRF token by design)."""
    web = web_of(request)
    try:
        link = await open_link(request, "unsubscribe")
    except BadLink as exc:
        return bad_link_page(request, exc)
    form = await request.form()
    goodbye = form.get("source") == "page"
    outcome = await end_subscription(
        web.engine, web.transport, web.renderer(), link.subscriber, goodbye=goodbye
    )
    if outcome is None:  # erased or signed up anew since the link was checked
        return bad_link_page(request, BadLink("stale link", gone=True))
    return _unsubscribed_page(web, request)


routes = [
    Route("/confirm/{token}", confirm_page, methods=["GET", "HEAD"]),
    Route("/confirm/{token}", confirm, methods=["POST"]),
    Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET", "HEAD"]),
    Route("/unsubscribe/{token}", unsubscribe_now, methods=["POST"]),
]
