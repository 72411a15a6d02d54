"""Fetching one configured source: the requests its kind needs, parsed into FeedEntry records.

`fetch_source` never touches the database and never raises for a source's own trouble: an
unreachable host, an HTTP error, a broken or oversized body all come back as error lines in
`SourceFetch.errors`, next to whatever entries were read before the trouble.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import httpx

from digest.config import SourceSettings
from digest.errors import SourceError
from digest.pacing import Pacer
from digest.records import LOOKED_UP, FeedEntry
from digest.sources import arxiv_api, arxiv_rss, hf_daily, rss
from digest.sources.http import (
    ARXIV_THROTTLE,
    DEFAULT_MAX_BYTES,
    Fetched,
    RateLimited,
    Request,
    RetryPolicy,
    Validators,
    get,
    is_arxiv_host,
)
from digest.sources.text import decode_body, plain_text
from digest.sources.xmlfeed import Parsed

FEED_ACCEPT = "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5"
LOOKUP_SOURCE = "arxiv-lookup"  # the listing name of papers fetched by id


@dataclass
class SourceFetch:
    """Everything one source yielded in one run."""

    entries: list[FeedEntry] = field(default_factory=list)
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    # The validators of each URL this run fetched (answered 200 or 304), by URL.
    validators: dict[str, Validators] = field(default_factory=dict)
    not_modified: bool = False
    retry_after: float | None = None

    def add(self, parsed: Parsed) -> None:
        self.entries.extend(parsed.entries)
        self.skipped += parsed.skipped
        if parsed.error:
            self.errors.append(parsed.error)

    @property
    def error(self) -> str | None:
        """All problems as one line, or None when the source was fine."""
        problems = list(dict.fromkeys(self.errors))
        if self.skipped:
            total = self.skipped + len(self.entries)
            problems.append(f"skipped {self.skipped} of {total} entries without an id or title")
        return "; ".join(problems) or None


@dataclass(frozen=True)
class Politeness:
    """How a fetch behaves on the network; tests pass quicker settings."""

    throttle: Pacer = ARXIV_THROTTLE
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    contact: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = 30.0


async def fetch_source(
    source: SourceSettings,
    client: httpx.AsyncClient,
    *,
    validators: Mapping[str, Validators] | None = None,
    today: date,
    politeness: Politeness | None = None,
) -> SourceFetch:
    """Fetch and parse one source; problems are reported in the result, not raised.

    `validators` are the stored ETag / Last-Modified of each URL, from the last run's
    `SourceFetch.validators`: a feed has one URL; Hugging Face Daily Papers one per day and
    page. A URL that answers 304 has nothing new; the run is `not_modified` when all did.
    """
    validators = validators or {}
    politeness = politeness or Politeness()
    result = SourceFetch()
    try:
        if source.kind == "arxiv-api":
            await _fetch_api(source, client, politeness, result)
        elif source.kind == "hf-daily":
            await _fetch_hf(source, client, today, validators, politeness, result)
        else:
            await _fetch_feed(source, client, validators, politeness, result)
    except RateLimited as exc:
        result.errors.append(str(exc))
        result.retry_after = exc.retry_after
    except SourceError as exc:
        result.errors.append(str(exc))
    return result


def _request(source: SourceSettings, url: str, politeness: Politeness, **kwargs: object) -> Request:
    polite = source.kind.startswith("arxiv") or is_arxiv_host(url)
    request = Request(
        url=url,
        contact=politeness.contact,
        timeout=politeness.timeout,
        max_bytes=politeness.max_bytes,
        throttle=politeness.throttle if polite else None,
    )
    for name, value in kwargs.items():
        setattr(request, name, value)
    return request


async def _fetch_feed(
    source: SourceSettings,
    client: httpx.AsyncClient,
    validators: Mapping[str, Validators],
    politeness: Politeness,
    result: SourceFetch,
) -> None:
    known = validators.get(source.url, Validators())
    request = _request(source, source.url, politeness, validators=known, accept=FEED_ACCEPT)
    fetched = _checked(await get(client, request, politeness.policy))
    result.validators[source.url] = fetched.validators
    if fetched.not_modified:
        result.not_modified = True
        return
    if source.kind == "arxiv-rss":
        text = _decoded(fetched, result)
        parsed = await asyncio.to_thread(arxiv_rss.parse_listing, text, source=source.name)
    else:
        parsed = await asyncio.to_thread(
            rss.parse_feed, fetched.body, source=source.name, content_type=fetched.content_type
        )
    _note_truncation(fetched, parsed, politeness)
    result.add(parsed)


async def _fetch_api(
    source: SourceSettings, client: httpx.AsyncClient, politeness: Politeness, result: SourceFetch
) -> None:
    query = arxiv_api.api_query(source.url)
    start = 0
    while start < query.wanted:
        request = _request(source, query.base_url, politeness, params=query.page(start))
        fetched = _checked(await get(client, request, politeness.policy))
        text = _decoded(fetched, result)
        parsed = await asyncio.to_thread(arxiv_api.parse_api_page, text, source=source.name)
        _note_truncation(fetched, parsed, politeness)
        result.add(parsed)
        got = len(parsed.entries) + parsed.skipped
        start += got
        if parsed.error or got == 0 or (parsed.total is not None and start >= parsed.total):
            return


async def _fetch_hf(
    source: SourceSettings,
    client: httpx.AsyncClient,
    today: date,
    validators: Mapping[str, Validators],
    politeness: Politeness,
    result: SourceFetch,
) -> None:
    """Each day's list, page by page, each page with its own validators. After a page that
    answers 304 the next is asked for only if it existed last time (it has validators)."""
    unchanged = True
    for base, params in hf_daily.daily_requests(source.url, today):
        limit = int(params["limit"]) if params["limit"].isdigit() else hf_daily.PAGE_SIZE
        for page in range(hf_daily.MAX_PAGES):
            page_params = {**params, "p": str(page)}
            url = page_url(base, page_params)
            request = _request(
                source,
                base,
                politeness,
                params=page_params,
                validators=validators.get(url, Validators()),
                accept="application/json",
            )
            fetched = _checked(await get(client, request, politeness.policy))
            result.validators[url] = fetched.validators
            if fetched.not_modified:
                next_url = page_url(base, {**params, "p": str(page + 1)})
                if next_url in validators:
                    continue
                break
            unchanged = False
            text = _decoded(fetched, result)
            parsed = await asyncio.to_thread(hf_daily.parse_daily_papers, text, source=source.name)
            _note_truncation(fetched, parsed, politeness)
            result.add(parsed)
            if parsed.error or len(parsed.entries) + parsed.skipped < limit:
                break
    result.not_modified = unchanged


def page_url(base: str, params: Mapping[str, str]) -> str:
    """The URL a request for `base` with `params` asks for: the key of its validators."""
    return str(httpx.URL(base, params=dict(params)))


async def fetch_arxiv_ids(
    client: httpx.AsyncClient,
    base_url: str,
    ids: Sequence[str],
    *,
    politeness: Politeness | None = None,
) -> SourceFetch:
    """Papers by arXiv id from the arXiv API at `base_url` (`id_list`, 100 ids a request,
    one request per 3 s like every arXiv call). Entries come back marked `LOOKED_UP`:
    stored, never news. Problems are reported in the result, not raised; ids the API does
    not know are simply missing from the entries."""
    politeness = politeness or Politeness()
    result = SourceFetch()
    try:
        for params in arxiv_api.id_list_pages(list(ids)):
            request = Request(
                url=base_url,
                params=params,
                contact=politeness.contact,
                timeout=politeness.timeout,
                max_bytes=politeness.max_bytes,
                throttle=politeness.throttle,
            )
            fetched = _checked(await get(client, request, politeness.policy))
            text = _decoded(fetched, result)
            parsed = await asyncio.to_thread(arxiv_api.parse_api_page, text, source=LOOKUP_SOURCE)
            _note_truncation(fetched, parsed, politeness)
            parsed.entries = [replace(e, announce_type=LOOKED_UP) for e in parsed.entries]
            result.add(parsed)
    except SourceError as exc:
        result.errors.append(str(exc))
    return result


def _checked(fetched: Fetched) -> Fetched:
    """The response if it is a success (2xx or 304), else SourceError saying why."""
    if 200 <= fetched.status < 300 or fetched.not_modified:
        return fetched
    detail = _error_detail(fetched.body)
    hint = {
        401: "the server wants credentials",
        403: "the server refused access",
        404: "check the source url",
        410: "the feed is gone; check the source url",
    }.get(fetched.status, "")
    extra = "; ".join(part for part in (detail, hint) if part)
    raise SourceError(
        f"HTTP {fetched.status} from {fetched.url}" + (f" ({extra})" if extra else "")
    )


def _error_detail(body: bytes) -> str:
    try:
        data = json.loads(body[:20_000])
    except ValueError:
        return ""
    if isinstance(data, dict):
        message = data.get("error") or data.get("message") or ""
        return plain_text(str(message))[:200]
    return ""


def _decoded(fetched: Fetched, result: SourceFetch) -> str:
    text, clean = decode_body(fetched.body, fetched.content_type)
    if not clean:
        result.errors.append(
            "the response was not in the character encoding it declared; "
            "read it as UTF-8/Windows-1252 (some characters may be wrong)"
        )
    return text


def _note_truncation(fetched: Fetched, parsed: Parsed, politeness: Politeness) -> None:
    if fetched.truncated:
        limit = politeness.max_bytes / 1_000_000
        parsed.error = (
            f"response larger than the {limit:g} MB limit; "
            f"kept the {len(parsed.entries)} entries before the cut"
        )
