"""Polite HTTP for the sources: timeouts, conditional GET, back-off, size cap, host spacing.

Every request goes through `get()` with the httpx client the caller passes in. It sends a
descriptive User-Agent and the source's stored `ETag` / `Last-Modified` validators (a 304
is a success with nothing new), waits its turn at rate-limited hosts (`Pacer`: one
request per 3 s to each arXiv host across the whole process), retries 429 and 5xx answers
and dropped connections with jittered exponential back-off honouring `Retry-After`, and
stops reading a body past `max_bytes`.

Failures raise `SourceError`; `RateLimited` (a subclass) carries how long the server asked
us to wait when that is longer than we are willing to wait now.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

import httpx

from digest.errors import SourceError
from digest.pacing import Pacer, Sleep

ARXIV_INTERVAL_SECONDS = 3.0
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_BYTES = 8_000_000
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def user_agent(contact: str | None = None) -> str:
    """The User-Agent every source request sends; arXiv asks for a way to reach the operator."""
    base = f"PaperDigest/{_version()} (self-hosted research digest; python-httpx"
    return f"{base}; mailto:{contact})" if contact else f"{base})"


@cache
def _version() -> str:
    try:
        return version("paper-digest")
    except PackageNotFoundError:
        return "dev"


def host_of(url: str) -> str:
    """The host a URL names, in lower case ("" if none)."""
    return (urlsplit(url).hostname or "").lower()


def is_arxiv_host(url: str) -> bool:
    host = host_of(url)
    return host == "arxiv.org" or host.endswith(".arxiv.org")


def new_client() -> httpx.AsyncClient:
    """The HTTP client the CLI and the service pass to `fetch_all` (callers close it)."""
    return httpx.AsyncClient(
        follow_redirects=True,
        timeout=httpx.Timeout(DEFAULT_TIMEOUT_SECONDS, connect=10.0),
        limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
        headers={"User-Agent": user_agent()},
    )


# The process-wide throttle for arXiv hosts; only a dict and a lock, no I/O.
ARXIV_THROTTLE = Pacer(ARXIV_INTERVAL_SECONDS)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request, back-off base and cap, longest acceptable wait."""

    attempts: int = 3
    base_delay: float = 2.0
    max_delay: float = 60.0
    max_retry_after: float = 120.0
    sleep: Sleep = field(default=asyncio.sleep, compare=False)

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before retry number `attempt` (1-based): Retry-After, else jittered."""
        if retry_after is not None:
            return retry_after + random.uniform(0, min(1.0, self.base_delay))
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


class RateLimited(SourceError):
    """The server asked us to wait longer than we wait within one fetch."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class Fetched:
    """One response: its body (possibly cut at the size cap) and new validators."""

    url: str
    status: int
    body: bytes = b""
    content_type: str | None = None
    validators: Validators = Validators()
    truncated: bool = False

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class Request:
    """What to fetch and how politely; `throttle` is set for rate-limited hosts."""

    url: str
    params: dict[str, str] = field(default_factory=dict)
    validators: Validators = Validators()
    accept: str = "*/*"
    contact: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    max_bytes: int = DEFAULT_MAX_BYTES
    throttle: Pacer | None = None


async def get(client: httpx.AsyncClient, request: Request, policy: RetryPolicy) -> Fetched:
    """GET with the politeness rules above; raises SourceError naming what went wrong."""
    for attempt in range(1, policy.attempts + 1):
        retry_after: float | None = None
        try:
            fetched = await _get_once(client, request)
        except _Retryable as exc:
            problem, retry_after = str(exc), exc.retry_after
        else:
            return fetched
        if retry_after is not None and retry_after > policy.max_retry_after:
            raise RateLimited(
                f"{problem}; the server asked us to wait {retry_after:.0f} s, so this source "
                "is skipped until then",
                retry_after=retry_after,
            )
        if attempt == policy.attempts:
            raise SourceError(f"{problem} (gave up after {attempt} attempts)")
        await policy.sleep(policy.backoff(attempt, retry_after))
    raise AssertionError("unreachable")


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


async def _get_once(client: httpx.AsyncClient, request: Request) -> Fetched:
    if request.throttle is not None:
        await request.throttle.wait(host_of(request.url))
    headers = {
        "User-Agent": user_agent(request.contact),
        "Accept": request.accept,
        **request.validators.headers(),
    }
    timeout = httpx.Timeout(request.timeout, connect=min(request.timeout, 10.0))
    try:
        async with asyncio.timeout(request.timeout * 2):
            return await _stream(client, request, headers, timeout)
    except (TimeoutError, httpx.TimeoutException):
        raise _Retryable(
            f"no answer from {_host(request.url)} within {request.timeout:g} s"
        ) from None
    except httpx.ConnectError as exc:
        raise _Retryable(f"cannot connect to {_host(request.url)} ({_reason(exc)})") from None
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise _Retryable(f"{_host(request.url)} dropped the connection ({_reason(exc)})") from None
    except httpx.InvalidURL as exc:
        raise SourceError(
            f"{request.url!r} is not a valid URL ({exc}); check the source url"
        ) from None
    except httpx.HTTPError as exc:
        raise SourceError(f"request to {_host(request.url)} failed ({_reason(exc)})") from None


async def _stream(
    client: httpx.AsyncClient, request: Request, headers: dict[str, str], timeout: httpx.Timeout
) -> Fetched:
    async with client.stream(
        "GET", request.url, params=request.params or None, headers=headers, timeout=timeout
    ) as response:
        status = response.status_code
        if status in RETRY_STATUSES:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            raise _Retryable(f"{_host(request.url)} answered HTTP {status}", wait)
        if status == 304:
            return Fetched(str(response.url), 304, validators=request.validators)
        body, truncated = await _read_capped(response, request.max_bytes)
        return Fetched(
            url=str(response.url),
            status=status,
            body=body,
            content_type=response.headers.get("Content-Type"),
            validators=Validators(
                response.headers.get("ETag"), response.headers.get("Last-Modified")
            ),
            truncated=truncated,
        )


async def _read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1][:160] if text else type(exc).__name__
