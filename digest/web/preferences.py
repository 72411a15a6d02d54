"""The preferences page, reached from the signed link in every email (no account, no password).

`/preferences/{token}`: edit topics, categories, authors, exclusions, time zone and send
time; `…/pause` and `…/resume`; `…/data.json` downloads everything held about the
subscriber; `…/delete` erases the subscriber and their whole history. Every POST needs the
form's CSRF token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.records import Subscriber
from digest.store.engine import transaction
from digest.store.personal_data import export_subscriber_data
from digest.store.signups import (
    erase_subscriber,
    set_paused,
    subscriber_for_link,
    update_preferences,
)
from digest.store.subscribers import SubscriberInput
from digest.tokens import TokenData
from digest.web.csrf import FIELD, CsrfError
from digest.web.forms import FormResult, read_profile_form
from digest.web.links import BadLink, bad_link_page, csrf_failed_page, link_subscriber, read_link
from digest.web.views import Web, web_of


def _form_of(sub: Subscriber) -> FormResult:
    return FormResult(
        values={
            "email": sub.email,
            "topics": "\n".join(sub.topics),
            "categories": " ".join(sub.categories),
            "authors": "\n".join(sub.authors),
            "exclude": "\n".join(sub.exclude),
            "timezone": sub.timezone,
            "send_at": sub.send_at.strftime("%H:%M"),
        }
    )


def _gone(web: Web, request: Request) -> Response:
    return web.message(
        request,
        "No such subscription",
        "This address has been removed from the list. Sign up again on the front page "
        "to start a new subscription.",
        410,
    )


def _show(
    web: Web,
    request: Request,
    sub: Subscriber,
    form: FormResult,
    status_code: int = 200,
    notice: str | None = None,
) -> Response:
    return web.page(
        request,
        "preferences.html",
        status_code,
        sub=sub,
        form=form,
        notice=notice,
        token=request.path_params["token"],
        no_store=True,
    )


@dataclass(frozen=True, slots=True)
class Authorised:
    """A request whose link (and, on a POST, CSRF token) checked out."""

    web: Web
    link: TokenData
    sub: Subscriber
    form: FormData


async def _authorise(request: Request, *, post: bool) -> Authorised | Response:
    """Read the link (and on a POST the form and its CSRF token), or an error page."""
    web = web_of(request)
    form = await request.form() if post else FormData()
    try:
        data = read_link(web, "preferences", request.path_params["token"])
        if post:
            web.csrf.check(request, form.get(FIELD))
    except BadLink as exc:
        return bad_link_page(request, exc)
    except CsrfError as exc:
        return csrf_failed_page(web, request, exc)
    sub = await run_in_threadpool(link_subscriber, web, data)
    if sub is None:
        return _gone(web, request)
    return Authorised(web, data, sub, form)


async def show(request: Request) -> Response:
    found = await _authorise(request, post=False)
    if isinstance(found, Response):
        return found
    web, sub = found.web, found.sub
    notice = {
        "saved": "Your preferences are saved.",
        "paused": "Your digest is paused.",
        "resumed": "Your digest is on again.",
    }.get(request.query_params.get("done", ""))
    return _show(web, request, sub, _form_of(sub), notice=notice)


def _save(web: Web, data: TokenData, profile: SubscriberInput) -> Subscriber | None:
    with transaction(web.engine) as session:
        return update_preferences(session, data.subscriber_id, data.version, profile)


async def save(request: Request) -> Response:
    found = await _authorise(request, post=True)
    if isinstance(found, Response):
        return found
    web, data, sub = found.web, found.link, found.sub
    form = read_profile_form(found.form, with_email=False)
    form.values["email"] = sub.email
    if form.data is None:
        return _show(web, request, sub, form, 400)
    if await run_in_threadpool(_save, web, data, form.data) is None:
        return _gone(web, request)
    return RedirectResponse(f"/preferences/{request.path_params['token']}?done=saved", 303)


def _pause(web: Web, data: TokenData, paused: bool) -> Subscriber | None:
    with transaction(web.engine) as session:
        return set_paused(session, data.subscriber_id, data.version, paused)


async def _pause_or_resume(request: Request, paused: bool) -> Response:
    found = await _authorise(request, post=True)
    if isinstance(found, Response):
        return found
    web, data = found.web, found.link
    if await run_in_threadpool(_pause, web, data, paused) is None:
        return _gone(web, request)
    done = "paused" if paused else "resumed"
    return RedirectResponse(f"/preferences/{request.path_params['token']}?done={done}", 303)


async def pause(request: Request) -> Response:
    return await _pause_or_resume(request, True)


async def resume(request: Request) -> Response:
    return await _pause_or_resume(request, False)


def _export(web: Web, data: TokenData) -> dict[str, Any] | None:
    with transaction(web.engine) as session:
        if subscriber_for_link(session, data.subscriber_id, data.version) is None:
            return None
        return export_subscriber_data(session, data.subscriber_id)


async def download(request: Request) -> Response:
    web = web_of(request)
    try:
        data = read_link(web, "preferences", request.path_params["token"])
    except BadLink as exc:
        return bad_link_page(request, exc)
    exported = await run_in_threadpool(_export, web, data)
    if exported is None:
        return _gone(web, request)
    body = json.dumps(exported, ensure_ascii=False, indent=2) + "\n"
    return Response(
        body,
        media_type="application/json",
        headers={
            "content-disposition": 'attachment; filename="paper-digest-my-data.json"',
            "cache-control": "no-store",
        },
    )


def _erase(web: Web, data: TokenData) -> bool:
    with transaction(web.engine) as session:
        return erase_subscriber(session, data.subscriber_id, data.version)


async def delete(request: Request) -> Response:
    found = await _authorise(request, post=True)
    if isinstance(found, Response):
        return found
    web, data, sub = found.web, found.link, found.sub
    if found.form.get("confirm") != "yes":
        form = _form_of(sub)
        notice = "Tick the box to confirm that everything should be deleted."
        return _show(web, request, sub, form, 400, notice=notice)
    await run_in_threadpool(_erase, web, data)
    return web.message(
        request,
        "Everything is deleted",
        "Your address, your preferences and your delivery history are gone. "
        "You will get no more email from this digest.",
    )


routes = [
    Route("/preferences/{token}", show, methods=["GET", "HEAD"]),
    Route("/preferences/{token}", save, methods=["POST"]),
    Route("/preferences/{token}/pause", pause, methods=["POST"]),
    Route("/preferences/{token}/resume", resume, methods=["POST"]),
    Route("/preferences/{token}/data.json", download, methods=["GET"]),
    Route("/preferences/{token}/delete", delete, methods=["POST"]),
]
