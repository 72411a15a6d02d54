"""Reading the signed links of emails: the token in the path, and for forms the CSRF field.

Every page reached from an email link starts here, so a forged, truncated, foreign or
expired token, and a form without its CSRF token, get the same clear pages everywhere.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from digest.records import Subscriber
from digest.store.engine import transaction
from digest.store.signups import subscriber_for_link
from digest.tokens import Purpose, TokenData, TokenError, read_token
from digest.web.csrf import FIELD, CsrfError
from digest.web.views import Web, web_of

MAX_TOKEN_CHARS = 400


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


def csrf_failed_page(web: Web, request: Request, exc: CsrfError) -> Response:
    return web.message(request, "Please try again", f"The form could not be sent: {exc}.", 403)


async def read_form_link(
    request: Request, purpose: Purpose
) -> tuple[TokenData, FormData] | Response:
    """The link's token and the posted form, or the page to answer with when either the
    token or the form's CSRF token is not valid."""
    web = web_of(request)
    form = await request.form()
    try:
        data = read_link(web, purpose, request.path_params["token"])
        web.csrf.check(request, form.get(FIELD))
    except BadLink as exc:
        return bad_link_page(request, exc)
    except CsrfError as exc:
        return csrf_failed_page(web, request, exc)
    return data, form


def link_subscriber(web: Web, data: TokenData) -> Subscriber | None:
    """The subscriber a link names, if the link's token version is still current."""
    with transaction(web.engine) as session:
        return subscriber_for_link(session, data.subscriber_id, data.version)
