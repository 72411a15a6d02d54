"""The web application factory: `create_app(settings, engine, transport)`.

It assembles the subscriber pages (front page and sign-up, confirm, unsubscribe,
preferences, feedback, the digest archive, the private feed), `/healthz`, the static
files, and the defences that wrap every request: security headers, a body-size cap, a Host
header check (only `web.base_url`'s host and loopback are answered) and a per-IP request
rate limit. Errors become a plain page with the right
status, never a traceback; a database that cannot be used (read-only, locked, down) is a
503 page that asks the visitor to try again later, and one line in the log that tells the
operator what to fix.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from digest.config import Settings
from digest.errors import DatabaseUnavailable
from digest.pipeline.embed import configured_model
from digest.rank.embed import SentenceModel
from digest.render.links import LinkMaker
from digest.send.transport import Transport
from digest.web import archive, feed, feedback, front, health, preferences, subscription, votes
from digest.web.csrf import Csrf
from digest.web.guard import BodyTooLarge, RateLimiter, SecurityHeaders, WebLimits
from digest.web.views import Web, make_environment, template_dir, web_of

if TYPE_CHECKING:
    from digest.service.heartbeats import Heartbeats

log = logging.getLogger("digest.web")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
STATUS_TITLES = {
    400: "Bad request",
    404: "Page not found",
    405: "Not allowed",
    413: "Request too large",
    429: "Too many requests",
}
# Seconds a visitor (or a client honouring Retry-After) waits before trying again on a 503.
RETRY_AFTER_UNAVAILABLE = 60


class RequestRateLimit:
    """Answers 429 to an IP that sends more than `limits.requests_per_ip` requests."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, limits: WebLimits) -> None:
        self.app = app
        self.limiter = limiter
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") != "/healthz":
            client = scope.get("client")
            ip = client[0] if client else "unknown"
            wait = self.limiter.allow("requests", ip, self.limits.requests_per_ip)
            if wait is not None:
                response = PlainTextResponse(
                    "Too many requests; slow down and try again shortly.\n",
                    status_code=429,
                    headers={"retry-after": str(int(wait) + 1)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    title = STATUS_TITLES.get(status, "Something went wrong")
    text = {
        404: "There is no page at this address. The front page is a good place to start.",
        405: "This address does not accept that kind of request.",
    }.get(status, "The request could not be handled.")
    response = web_of(request).message(request, title, text, status)
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)
    return response


async def too_large(request: Request, exc: Exception) -> Response:
    return web_of(request).message(
        request, "Request too large", "The form sent far more data than it can hold.", 413
    )


async def database_unavailable(request: Request, exc: Exception) -> Response:
    problem = exc.problem if isinstance(exc, DatabaseUnavailable) else "unknown"
    log.error(
        "database unavailable while serving %s %s: %s",
        request.method,
        request.url.path,
        exc,
        extra={"problem": problem},
    )
    response = web_of(request).message(
        request,
        "Temporarily unavailable",
        "The service cannot save or look up your details right now. Nothing was changed: "
        "please try again in a few minutes.",
        503,
    )
    response.headers["retry-after"] = str(RETRY_AFTER_UNAVAILABLE)
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("error while serving %s %s", request.method, request.url.path)
    return web_of(request).message(
        request,
        "Something went wrong",
        "The page could not be shown because of an error on our side. Please try again later.",
        500,
    )


def trusted_hosts(settings: Settings) -> list[str]:
    """The names the pages answer to in the Host header: the host of `web.base_url`, and
    loopback (a reverse proxy on the same machine that does not pass the public name on).
    Any other Host gets 400, so nothing built from it (such as the redirect from `/static`
    to `/static/`) can point visitors elsewhere."""
    host = (urlsplit(settings.web.base_url).hostname or "").lower()
    public = f"[{host}]" if ":" in host else host
    return list(dict.fromkeys([public, *LOOPBACK_HOSTS]))


def create_app(
    settings: Settings,
    engine: Engine,
    transport: Transport,
    *,
    limits: WebLimits | None = None,
    model: SentenceModel | None = None,
    heartbeats: Heartbeats | None = None,
) -> Starlette:
    """The ASGI app of the subscriber pages; uvicorn serves it inside `digest serve`.
    `model` embeds the topics subscribers save (default: the configured one, loaded when
    first needed). `heartbeats` are the running service's, which `/healthz` reports on
    (none in a process that only serves the pages)."""
    limits = limits or WebLimits()
    model = model or configured_model(settings)
    secret = settings.secret_key()
    https = settings.web.base_url.startswith("https://")
    limiter = RateLimiter()
    routes: list[BaseRoute] = [
        *front.routes,
        *subscription.routes,
        *preferences.routes,
        *votes.routes,
        *feedback.routes,
        *archive.routes,
        *feed.routes,
        *health.routes,
        Mount("/static", StaticFiles(directory=template_dir() / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SecurityHeaders,
                https=https,
                max_body=limits.max_body,
                max_upload=limits.max_upload,
            ),
            Middleware(
                TrustedHostMiddleware, allowed_hosts=trusted_hosts(settings), www_redirect=False
            ),
            Middleware(RequestRateLimit, limiter=limiter, limits=limits),
        ],
        exception_handlers={
            HTTPException: http_error,
            BodyTooLarge: too_large,
            DatabaseUnavailable: database_unavailable,
            Exception: server_error,
        },
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.heartbeats = heartbeats
    app.state.web = Web(
        settings=settings,
        engine=engine,
        transport=transport,
        limits=limits,
        limiter=limiter,
        csrf=Csrf(secret, secure_cookie=https),
        links=LinkMaker(settings),
        secret=secret,
        env=make_environment(),
        model=model,
    )
    return app
