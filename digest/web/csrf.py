"""CSRF protection for the forms: a signed double-submit token.

Each browser gets a random value in an HttpOnly, SameSite=Lax cookie. Every form carries
the same value signed with the service's key (and a timestamp). A POST is accepted only when
the form's value verifies, is younger than `MAX_AGE`, and names the cookie's value; another
site can neither read the cookie nor forge the signature.
"""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadSignature, TimestampSigner
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "digest_csrf"
FIELD = "csrf_token"
MAX_AGE = 24 * 3600
_COOKIE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class CsrfError(Exception):
    """The form's CSRF token is missing, forged, stale or for another browser."""


class Csrf:
    """Issues and checks the tokens; one per app, keyed by the service's secret."""

    def __init__(self, secret: str, *, secure_cookie: bool) -> None:
        self._signer = TimestampSigner(secret, salt="paper-digest/csrf")
        self._secure = secure_cookie

    def cookie_value(self, request: Request) -> str:
        """This browser's value: from its cookie, or a new one (set by `attach`)."""
        value = request.cookies.get(COOKIE, "")
        if 20 <= len(value) <= 64 and set(value) <= _COOKIE_CHARS:
            return value
        state = request.scope.setdefault("state", {})
        if "new_csrf" not in state:
            state["new_csrf"] = secrets.token_urlsafe(24)
        return str(state["new_csrf"])

    def form_token(self, request: Request) -> str:
        return self._signer.sign(self.cookie_value(request)).decode("ascii")

    def attach(self, request: Request, response: Response) -> None:
        """Set the cookie on `response` when this request minted a new value."""
        new = request.scope.get("state", {}).get("new_csrf")
        if new:
            response.set_cookie(
                COOKIE,
                new,
                max_age=7 * 86400,
                httponly=True,
                samesite="lax",
                secure=self._secure,
                path="/",
            )

    def check(self, request: Request, submitted: object) -> None:
        """Raise CsrfError unless `submitted` is a valid token for this browser's cookie."""
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            raise CsrfError("your browser did not send this site's cookie; allow cookies and retry")
        if not isinstance(submitted, str) or len(submitted) > 200:
            raise CsrfError("the form is missing its security token; reload the page")
        try:
            value = self._signer.unsign(submitted, max_age=MAX_AGE).decode("ascii")
        except BadSignature:
            raise CsrfError("the form has expired or was tampered with; reload the page") from None
        if not hmac.compare_digest(value, cookie):
            raise CsrfError("the form was opened in another browser session; reload the page")
