"""The preferences page, reached from the signed link in every email (no account, no password).

`/preferences/{token}`: edit topics, categories, authors, exclusions, time zone and send
time; `…/library` adds papers the subscriber likes (pasted or uploaded: see
digest.pipeline.library); `…/pause` and `…/resume`; `…/data.json` downloads everything held
about the subscriber; `…/delete` erases the subscriber and their whole history; what the
ranking learned from the subscriber's votes, and forgetting them, is digest.web.votes. Every
POST needs the form's CSRF token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.pipeline.library import LibraryReport, add_library
from digest.pipeline.profiles import save_preferences
from digest.records import Paper, Subscriber
from digest.sources.http import new_client
from digest.sources.library import MAX_LIBRARY_BYTES, LibraryError
from digest.store.archive import past_digests
from digest.store.engine import transaction
from digest.store.library import library_of
from digest.store.personal_data import export_subscriber_data
from digest.store.signups import (
    erase_subscriber,
    link_still_current,
    set_paused,
)
from digest.store.subscribers import weekday_code
from digest.web.archive import past_digest_links
from digest.web.csrf import FIELD, CsrfError
from digest.web.forms import FormResult, read_profile_form
from digest.web.links import BadLink, bad_link_page, csrf_failed_page, gone_page, open_link
from digest.web.views import Web, web_of
from digest.web.votes import FORGOTTEN, learning_of


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
            "frequency": sub.frequency,
            "weekday": weekday_code(sub.weekday) or "mon",
            "feed_only": "yes" if sub.feed_only else "",
        }
    )


@dataclass(frozen=True, slots=True)
class LibraryView:
    """The library part of the page: how many papers, the latest, and what the last
    addition could not find (or why the input was refused)."""

    count: int = 0
    latest: tuple[Paper, ...] = ()
    lines: tuple[str, ...] = ()
    error: str | None = None
    text: str = ""


def _library(web: Web, subscriber_id: int) -> tuple[int, list[Paper]]:
    with transaction(web.engine) as session:
        return library_of(session, subscriber_id)


async def _show(
    web: Web,
    request: Request,
    sub: Subscriber,
    form: FormResult,
    status_code: int = 200,
    notice: str | None = None,
    library: LibraryView | None = None,
) -> Response:
    count, latest = await run_in_threadpool(_library, web, sub.id)
    digests = await run_in_threadpool(_past_digests, web, sub)
    votes = await run_in_threadpool(learning_of, web, sub)
    library = library or LibraryView()
    return web.page(
        request,
        "preferences.html",
        status_code,
        sub=sub,
        form=form,
        notice=notice,
        library=LibraryView(count, tuple(latest), library.lines, library.error, library.text),
        digests=digests,
        votes=votes,
        feed_url=web.links.feed(sub),
        token=request.path_params["token"],
        no_store=True,
    )


def _past_digests(web: Web, sub: Subscriber) -> list[dict[str, object]]:
    with transaction(web.engine) as session:
        return past_digest_links(web, sub, past_digests(session, sub.id))


@dataclass(frozen=True, slots=True)
class Authorised:
    """A request whose link (and, on a POST, CSRF token) checked out."""

    web: Web
    sub: Subscriber
    form: FormData


async def _authorise(
    request: Request, *, post: bool, upload: bool = False
) -> Authorised | Response:
    """Read the link (and on a POST the form and its CSRF token), or an error page.
    `upload`: the form may carry one file and a text field as large as a library."""
    web = web_of(request)
    if upload:
        limit = web.limits.max_upload
        form = await request.form(max_files=1, max_fields=10, max_part_size=limit)
    else:
        form = await request.form() if post else FormData()
    try:
        sub = (await open_link(request, "preferences")).subscriber
        if post:
            web.csrf.check(request, form.get(FIELD))
    except BadLink as exc:
        return bad_link_page(request, exc)
    except CsrfError as exc:
        return csrf_failed_page(web, request, exc)
    return Authorised(web, sub, form)


async def show(request: Request) -> Response:
    found = await _authorise(request, post=False)
    if isinstance(found, Response):
        return found
    web, sub = found.web, found.sub
    notice = {
        "saved": "Your preferences are saved.",
        "paused": "Your digest is paused.",
        "resumed": "Your digest is on again.",
        "forgotten": FORGOTTEN,
    }.get(request.query_params.get("done", ""))
    return await _show(web, request, sub, _form_of(sub), notice=notice)


async def save(request: Request) -> Response:
    found = await _authorise(request, post=True)
    if isinstance(found, Response):
        return found
    web, sub = found.web, found.sub
    form = read_profile_form(found.form, with_email=False)
    form.values["email"] = sub.email
    if form.data is None:
        return await _show(web, request, sub, form, 400)
    if await run_in_threadpool(save_preferences, web.engine, web.model, sub, form.data) is None:
        return gone_page(web, request)
    return RedirectResponse(f"/preferences/{request.path_params['token']}?done=saved", 303)


async def add_papers(request: Request) -> Response:
    """Add the pasted ids (field `papers`) and the uploaded file (field `file`) to the
    subscriber's library; the page shows what was added and, by line, what was not."""
    found = await _authorise(request, post=True, upload=True)
    if isinstance(found, Response):
        return found
    web, sub = found.web, found.sub
    try:
        inputs = await _library_inputs(found.form)
    finally:
        await found.form.close()  # the uploaded file's spooled copy
    pasted = found.form.get("papers")
    view = LibraryView(text=pasted[:10_000] if isinstance(pasted, str) else "")
    if not inputs:
        view = LibraryView(error="Paste arXiv ids or DOIs, or choose a file to upload.")
        return await _show(web, request, sub, _form_of(sub), 400, library=view)
    wait = web.limiter.allow("library", str(sub.id), web.limits.library_adds_per_subscriber)
    if wait is not None:
        view = LibraryView(error=f"Too many additions in a row; try again in {wait / 60:.0f} min.")
        return await _show(web, request, sub, _form_of(sub), 429, library=view)
    try:
        reports = [(where, await _add(web, sub.id, data)) for where, data in inputs]
    except LibraryError as exc:
        view = LibraryView(error=str(exc)[:1].upper() + str(exc)[1:] + ".", text=view.text)
        return await _show(web, request, sub, _form_of(sub), 400, library=view)
    lines = [
        f"{where}, {line}" if len(reports) > 1 else line[:1].upper() + line[1:]
        for where, report in reports
        for line in report.problems + report.not_found
    ]
    notice = " ".join(report.summary() for _, report in reports)
    view = LibraryView(lines=tuple(lines))
    return await _show(web, request, sub, _form_of(sub), notice=notice, library=view)


async def _library_inputs(form: FormData) -> list[tuple[str, bytes | str]]:
    """What the form gives: the uploaded file, then the pasted text (each if not empty)."""
    inputs: list[tuple[str, bytes | str]] = []
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        inputs.append((f"In {upload.filename[:80]}", await upload.read(MAX_LIBRARY_BYTES + 1)))
    pasted = form.get("papers")
    if isinstance(pasted, str) and pasted.strip():
        inputs.append(("In the pasted text", pasted))
    return inputs


async def _add(web: Web, subscriber_id: int, data: bytes | str) -> LibraryReport:
    async with new_client() as client:
        return await add_library(
            web.settings, web.engine, client, subscriber_id, data, model=web.model
        )


def _pause(web: Web, sub: Subscriber, paused: bool) -> Subscriber | None:
    with transaction(web.engine) as session:
        return set_paused(session, sub.id, sub.link_secret, paused)


async def _pause_or_resume(request: Request, paused: bool) -> Response:
    found = await _authorise(request, post=True)
    if isinstance(found, Response):
        return found
    web = found.web
    if await run_in_threadpool(_pause, web, found.sub, paused) is None:
        return gone_page(web, request)
    done = "paused" if paused else "resumed"
    return RedirectResponse(f"/preferences/{request.path_params['token']}?done={done}", 303)


async def pause(request: Request) -> Response:
    return await _pause_or_resume(request, True)


async def resume(request: Request) -> Response:
    return await _pause_or_resume(request, False)


def _export(web: Web, sub: Subscriber) -> dict[str, Any] | None:
    with transaction(web.engine) as session:
        if not link_still_current(session, sub.id, sub.link_secret):
            return None
        return export_subscriber_data(session, sub.id)


async def download(request: Request) -> Response:
    web = web_of(request)
    try:
        sub = (await open_link(request, "preferences")).subscriber
    except BadLink as exc:
        return bad_link_page(request, exc)
    exported = await run_in_threadpool(_export, web, sub)
    if exported is None:
        return gone_page(web, request)
    body = json.dumps(exported, ensure_ascii=False, indent=2) + "\n"
    return Response(
        body,
        media_type="application/json",
        headers={
            "content-disposition": 'attachment; filename="paper-digest-my-data.json"',
            "cache-control": "no-store",
        },
    )


def _erase(web: Web, sub: Subscriber) -> bool:
    with transaction(web.engine) as session:
        return erase_subscriber(session, sub.id, sub.link_secret)


async def delete(request: Request) -> Response:
    found = await _authorise(request, post=True)
    if isinstance(found, Response):
        return found
    web, sub = found.web, found.sub
    if found.form.get("confirm") != "yes":
        form = _form_of(sub)
        notice = "Tick the box to confirm that everything should be deleted."
        return await _show(web, request, sub, form, 400, notice=notice)
    await run_in_threadpool(_erase, web, sub)
    return web.message(
        request,
        "Everything is deleted",
        "Your address, your preferences and your delivery history are gone. "
        "You will get no more email from this digest.",
    )


routes = [
    Route("/preferences/{token}", show, methods=["GET", "HEAD"]),
    Route("/preferences/{token}", save, methods=["POST"]),
    Route("/preferences/{token}/library", add_papers, methods=["POST"]),
    Route("/preferences/{token}/pause", pause, methods=["POST"]),
    Route("/preferences/{token}/resume", resume, methods=["POST"]),
    Route("/preferences/{token}/data.json", download, methods=["GET"]),
    Route("/preferences/{token}/delete", delete, methods=["POST"]),
]
