"""The front page: a day's papers from the store under the subscribe form, and the form's POST.

`GET /` shows the newest day that has papers (`?day=YYYY-MM-DD` picks another, `?page=N`
pages through a long day). `POST /subscribe` starts the double opt-in and always answers
with the same "check your inbox" page, whether the address was new, pending, already
subscribed or over its daily limit, so the page never tells who is subscribed.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.errors import TransportError, UsageError
from digest.pipeline.signup import request_confirmation
from digest.store.browse import paper_days, papers_on_day
from digest.store.engine import transaction
from digest.web.csrf import FIELD, CsrfError
from digest.web.forms import FormResult, read_profile_form
from digest.web.guard import client_ip
from digest.web.links import csrf_failed_page
from digest.web.views import Web, web_of

PAGE_SIZE = 50
HONEYPOT = "website"
log = logging.getLogger("digest.web")


def _day_listing(web: Web, day: date | None, page: int) -> dict[str, Any]:
    with transaction(web.engine) as session:
        days = paper_days(session)
        shown = day or (days[0] if days else None)
        papers, total = (
            papers_on_day(session, shown, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
            if shown
            else ([], 0)
        )
    earlier = [d for d in days if shown is None or d < shown]
    later = [d for d in days if shown is not None and d > shown]
    return {
        "days": days,
        "day": shown,
        "papers": papers,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "previous_day": earlier[0] if earlier else None,
        "next_day": later[-1] if later else None,
    }


def _query(request: Request) -> tuple[date | None, int]:
    day_text = request.query_params.get("day", "").strip()
    page_text = request.query_params.get("page", "1").strip() or "1"
    day = date.fromisoformat(day_text) if day_text else None
    if not page_text.isdigit() or not 1 <= int(page_text) <= 10_000:
        raise ValueError("page")
    return day, int(page_text)


def _blank_form(web: Web) -> FormResult:
    return FormResult(
        values={
            "email": "",
            "topics": "",
            "categories": "",
            "authors": "",
            "exclude": "",
            "timezone": web.settings.digest.default_timezone,
            "send_at": web.settings.digest.default_send_at,
        }
    )


async def _front(request: Request, form: FormResult, status_code: int = 200) -> Response:
    web = web_of(request)
    try:
        day, page = _query(request)
    except ValueError:
        return web.message(
            request,
            "Not a date",
            "Pick a day with the date picker, or use a date written YYYY-MM-DD.",
            400,
        )
    listing = await run_in_threadpool(_day_listing, web, day, page)
    return web.page(request, "index.html", status_code, form=form, **listing)


async def home(request: Request) -> Response:
    return await _front(request, _blank_form(web_of(request)))


def _signup_allowed(web: Web, request: Request, email: str) -> bool:
    limits = web.limits
    if web.limiter.allow("signup-ip", client_ip(request), limits.signups_per_ip) is not None:
        return False
    return web.limiter.allow("signup-address", email, limits.signups_per_address) is None


async def subscribe(request: Request) -> Response:
    web = web_of(request)
    form_data = await request.form()
    try:
        web.csrf.check(request, form_data.get(FIELD))
    except CsrfError as exc:
        return csrf_failed_page(web, request, exc)
    if form_data.get(HONEYPOT):
        return RedirectResponse("/subscribed", status_code=303)
    form = read_profile_form(form_data, with_email=True)
    if form.data is None:
        return await _front(request, form, 400)
    if not _signup_allowed(web, request, form.data.email):
        response = web.message(
            request,
            "Too many sign-ups",
            "Too many sign-up requests came from here or for this address. "
            "Please wait an hour and try again.",
            429,
        )
        response.headers["retry-after"] = "3600"
        return response
    try:
        await request_confirmation(
            web.settings,
            web.engine,
            web.transport,
            form.data,
            ip=client_ip(request),
            renderer=web.renderer(),
            model=web.model,
        )
    except UsageError as exc:
        form.errors["email"] = str(exc)
        return await _front(request, form, 400)
    except TransportError as exc:
        log.warning("could not send a confirmation email: %s", exc)
        return web.message(
            request,
            "We could not send the email",
            "The confirmation email could not be sent just now, so nothing was saved. "
            "Please try again in a few minutes.",
            503,
        )
    return RedirectResponse("/subscribed", status_code=303)


async def subscribed(request: Request) -> Response:
    return web_of(request).message(
        request,
        "Check your inbox",
        "If the address can receive a digest, a confirmation email is on its way. "
        "Open the link in it within 72 hours to start your daily digest. "
        "Nothing arrives? Look in the spam folder, or sign up again later.",
    )


async def subscribe_form(request: Request) -> Response:
    return RedirectResponse("/#subscribe", status_code=303)


routes = [
    Route("/", home, methods=["GET", "HEAD"]),
    Route("/subscribe", subscribe_form, methods=["GET", "HEAD"]),
    Route("/subscribe", subscribe, methods=["POST"]),
    Route("/subscribed", subscribed, methods=["GET", "HEAD"]),
]
