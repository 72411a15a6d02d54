"""Defences around every request: security headers, a request-size cap and rate limits.

`SecurityHeaders` is ASGI middleware that adds a strict Content-Security-Policy (no inline
script, no framing), a no-referrer policy (links carry tokens) and friends to every answer,
and refuses request bodies over `max_body` bytes with 413 before anything reads them.

`RateLimiter` counts events per key (an IP, an address) in sliding windows held in memory;
the web process is the only one serving pages, so memory is the right place.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
HSTS = "max-age=31536000"


UPLOAD_SUFFIX = "/library"  # the one form that takes a file: a subscriber's library


class SecurityHeaders:
    """Adds the security headers; refuses oversized bodies with 413 (`max_upload` for the
    library upload, `max_body` for everything else)."""

    def __init__(self, app: ASGIApp, *, https: bool, max_body: int, max_upload: int) -> None:
        self.app = app
        self.https = https
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if self.https:
                    headers.setdefault("strict-transport-security", HSTS)
            await send(message)

        cap = self.max_upload if scope["path"].endswith(UPLOAD_SUFFIX) else self.max_body
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _too_large(send_with_headers)
            return
        await self.app(scope, self._capped(receive, cap), send_with_headers)

    def _capped(self, receive: Receive, cap: int) -> Receive:
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLarge
            return message

        return capped


class BodyTooLarge(Exception):
    """A chunked request body grew past the cap (answered 413 by the app)."""


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send) -> None:
    body = b"Request too large.\n"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` events per `seconds` for one key."""

    count: int
    seconds: float


@dataclass(frozen=True, slots=True)
class WebLimits:
    """The rate limits of the public pages. Defaults suit a public deployment."""

    requests_per_ip: Limit = Limit(240, 60)  # any page: stops floods, not readers
    signups_per_ip: Limit = Limit(10, 3600)
    signups_per_address: Limit = Limit(5, 3600)
    max_body: int = 64 * 1024
    # A library file may be 2 MB (see sources.library); this leaves room for the form.
    max_upload: int = 2_200_000
    library_adds_per_subscriber: Limit = Limit(20, 3600)


class RateLimiter:
    """Sliding-window counters per (bucket, key), in memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._calls = 0

    def allow(self, bucket: str, key: str, limit: Limit) -> float | None:
        """Count one event; None if allowed, else the seconds until the next is allowed."""
        now = self._clock()
        hits = self._hits.setdefault((bucket, key), deque())
        while hits and hits[0] <= now - limit.seconds:
            hits.popleft()
        self._calls += 1
        if self._calls % 1000 == 0:
            self._forget_idle(now)
        if len(hits) >= limit.count:
            return max(1.0, hits[0] + limit.seconds - now)
        hits.append(now)
        return None

    def _forget_idle(self, now: float, horizon: float = 86400) -> None:
        idle = [key for key, hits in self._hits.items() if not hits or hits[-1] < now - horizon]
        for key in idle:
            del self._hits[key]


def client_ip(request: Request) -> str:
    """The client's address (uvicorn resolves X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else "unknown"
