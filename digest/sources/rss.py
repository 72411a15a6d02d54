"""Any RSS 2.0, RSS 1.0 (RDF) or Atom feed — journals, bioRxiv, blogs — read with feedparser.

Titles and summaries arrive as HTML more often than not; they are stored as plain text.
An entry's key is its arXiv id or DOI when the feed reveals one (`dc:identifier`,
`prism:doi`, a doi.org or bioRxiv link), else its normalised link, else its id if that is a
URL. Entries with neither a title nor any such key are skipped and counted.
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime
from typing import Any

import feedparser

from digest.records import FeedEntry
from digest.sources.keys import canonical_key, normalise_doi, parse_arxiv_id
from digest.sources.text import decode_body, html_to_text, plain_text, split_authors
from digest.sources.xmlfeed import Parsed, looks_like_html

# feedparser's own recoverable complaints that do not mean anything was lost.
_HARMLESS = ("CharacterEncodingOverride", "NonXMLContentType")


def parse_feed(body: bytes, *, source: str, content_type: str | None = None) -> Parsed:
    """Entries of a generic feed; a broken feed keeps the entries the parser recovered."""
    text, _ = decode_body(body, content_type)
    if looks_like_html(text):
        return Parsed(error="got an HTML page instead of a feed; check the source url")
    result = feedparser.parse(text, sanitize_html=True, resolve_relative_uris=False)
    parsed = Parsed(error=_problem(result))
    for item in result.entries:
        entry = feed_entry(item, source=source)
        if entry is None:
            parsed.skipped += 1
        else:
            parsed.entries.append(entry)
    if not result.entries and not result.get("version") and parsed.error is None:
        parsed.error = "not an RSS or Atom feed"
    return parsed


def feed_entry(item: Any, *, source: str) -> FeedEntry | None:
    """One feedparser entry as a FeedEntry; None without a title or a key."""
    title = _text(item.get("title_detail") or item.get("title"))
    link = item.get("link") or None
    doi = normalise_doi(item.get("prism_doi") or item.get("dc_identifier"))
    parsed_id = parse_arxiv_id(item.get("id")) or parse_arxiv_id(link)
    entry_id = item.get("id") or ""
    fallback = entry_id if entry_id.startswith(("http://", "https://")) else None
    key = canonical_key(
        arxiv_id=parsed_id[0] if parsed_id else None, doi=doi, link=link or fallback
    )
    if not title or key is None:
        return None
    published = _timestamp(item.get("published_parsed") or item.get("updated_parsed"))
    summary = item.get("summary_detail") or (item.get("content") or [None])[0]
    return FeedEntry(
        source=source,
        key=key,
        title=title,
        abstract=_text(summary),
        authors=_authors(item),
        categories=tuple(
            dict.fromkeys(t["term"].strip() for t in item.get("tags", ()) if t.get("term"))
        ),
        arxiv_id=parsed_id[0] if parsed_id else None,
        version=parsed_id[1] if parsed_id else None,
        doi=doi,
        link=link,
        abs_url=link,
        published=published,
        updated=_timestamp(item.get("updated_parsed")),
        announced_on=published.date() if published else None,
    )


def _problem(result: Any) -> str | None:
    if not result.get("bozo"):
        return None
    exc = result.get("bozo_exception")
    if type(exc).__name__ in _HARMLESS:
        return None
    reason = str(getattr(exc, "getMessage", lambda: exc)()) if exc else "unknown problem"
    return f"malformed feed ({reason}); kept {len(result.entries)} entries"


def _text(detail: Any) -> str:
    if not detail:
        return ""
    if isinstance(detail, str):
        return plain_text(detail)
    value = detail.get("value", "")
    if "html" in detail.get("type", "text/html"):
        return html_to_text(value)
    return plain_text(value)


def _authors(item: Any) -> tuple[str, ...]:
    names = [a.get("name", "") for a in item.get("authors", ()) if isinstance(a, dict)]
    if not any(names):
        names = [item.get("author", "")]
    return split_authors(", ".join(n for n in names if n))


def _timestamp(value: time.struct_time | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(calendar.timegm(value), UTC)
