"""The arXiv API (`export.arxiv.org/api/query`): a configured query, fetched page by page.

The source `url` carries the query as arXiv documents it, e.g.
`https://export.arxiv.org/api/query?search_query=cat:cs.LG+AND+all:diffusion&sortBy=submittedDate&sortOrder=descending&max_results=200`.
`max_results` is the total wanted; it is fetched in pages of at most `PAGE_SIZE` with
`start`, stopping early when the results run out. Entries bring the primary category,
comments, DOI and journal reference.

`id_list_pages` is the other way in: papers by their ids (a subscriber's library), at most
`ID_LIST_SIZE` a request.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from digest.records import FeedEntry
from digest.sources.keys import normalise_doi, parse_arxiv_id
from digest.sources.text import detex_accents, parse_timestamp, plain_text
from digest.sources.xmlfeed import Parsed, child_text, children_by_name, looks_like_html, read_items

PAGE_SIZE = 100
ID_LIST_SIZE = 100  # ids asked for in one `id_list` request
DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_LIMIT = 2000


@dataclass(frozen=True)
class ApiQuery:
    """The base URL and query parameters of an arXiv API source, and how many results."""

    base_url: str
    params: dict[str, str]
    wanted: int

    def page(self, start: int) -> dict[str, str]:
        size = min(PAGE_SIZE, self.wanted - start)
        return {**self.params, "start": str(start), "max_results": str(size)}


def api_query(url: str) -> ApiQuery:
    """Split a configured API URL into base, fixed parameters and the total wanted."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=False))
    params.pop("start", None)
    try:
        wanted = int(params.pop("max_results", DEFAULT_MAX_RESULTS))
    except ValueError:
        wanted = DEFAULT_MAX_RESULTS
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return ApiQuery(base, params, max(1, min(wanted, MAX_RESULTS_LIMIT)))


def id_list_pages(ids: Sequence[str]) -> list[dict[str, str]]:
    """The query parameters that fetch papers by id, `ID_LIST_SIZE` ids a request."""
    return [
        {"id_list": ",".join(ids[start : start + ID_LIST_SIZE]), "max_results": str(ID_LIST_SIZE)}
        for start in range(0, len(ids), ID_LIST_SIZE)
    ]


def parse_api_page(text: str, *, source: str) -> Parsed:
    """Entries of one API response page, and `total` from `opensearch:totalResults`."""
    if looks_like_html(text):
        return Parsed(error="got an HTML page instead of an arXiv API answer; check the url")
    xml = read_items(text, {"entry"}, {"totalresults"})
    if xml.root is not None and xml.root != "feed":
        return Parsed(error=f"not an arXiv API answer (the document is <{xml.root}>)")
    total = xml.meta.get("totalresults", "")
    parsed = Parsed(error=xml.error, total=int(total) if total.isdigit() else None)
    for item in xml.items:
        found = children_by_name(item)
        if "/api/errors" in (child_text(found, "id") or ""):
            message = plain_text(child_text(found, "summary")) or "unknown error"
            return Parsed(error=f"the arXiv API rejected the query: {message}")
        entry = api_entry(found, source=source)
        if entry is None:
            parsed.skipped += 1
        else:
            parsed.entries.append(entry)
    return parsed


def api_entry(found: dict[str, list[ET.Element]], *, source: str) -> FeedEntry | None:
    parsed_id = parse_arxiv_id(child_text(found, "id"))
    title = plain_text(child_text(found, "title"))
    if parsed_id is None or not title:
        return None
    arxiv_id, version = parsed_id
    categories = tuple(
        dict.fromkeys(c.get("term", "").strip() for c in found.get("category", ()) if c.get("term"))
    )
    primary = next((c.get("term") for c in found.get("primary_category", ())), None)
    published = parse_timestamp(child_text(found, "published"))
    names = [child_text(children_by_name(a), "name") or "" for a in found.get("author", ())]
    return FeedEntry(
        source=source,
        key=arxiv_id,
        title=title,
        abstract=plain_text(child_text(found, "summary")),
        authors=tuple(plain_text(detex_accents(name)) for name in names if name),
        categories=categories,
        primary_category=primary or (categories[0] if categories else None),
        arxiv_id=arxiv_id,
        version=version,
        doi=normalise_doi(child_text(found, "doi")),
        link=f"https://arxiv.org/abs/{arxiv_id}",
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        comment=plain_text(child_text(found, "comment")) or None,
        journal_ref=plain_text(child_text(found, "journal_ref")) or None,
        published=published,
        updated=parse_timestamp(child_text(found, "updated")),
        announced_on=published.date() if published else None,
    )
