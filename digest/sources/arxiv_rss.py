"""arXiv listing feeds (`rss.arxiv.org/rss/…` and `/atom/…`, categories joined with `+`).

Reads all three shapes arXiv has served: RSS 2.0 and Atom (since 2024: announce type,
`dc:creator`, optional `arxiv:DOI` and `arxiv:journal_reference`) and the legacy RSS 1.0
feed (`export.arxiv.org/rss/…`, "UPDATED" in the title for replacements). An empty listing
(weekends, holidays) is a normal, successful answer with no entries.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime

from digest.records import FeedEntry
from digest.sources.keys import normalise_doi, parse_arxiv_id
from digest.sources.text import (
    html_to_text,
    parse_timestamp,
    plain_text,
    split_authors,
)
from digest.sources.xmlfeed import (
    Parsed,
    child_text,
    children_by_name,
    looks_like_html,
    read_items,
)

FEED_ROOTS = {"feed", "rss", "rdf"}
NEW_TYPES = {"new", "cross"}
_DESCRIPTION = re.compile(
    r"^\s*arXiv:\S+\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?(?P<abstract>.*)$",
    re.S | re.I,
)
_LEGACY_TITLE = re.compile(
    r"\s*\(arXiv:(?P<id>\S+)\s*(?:\[(?P<cat>[^\]]+)\])?\s*(?P<updated>UPDATED)?\)\s*$"
)


def parse_listing(text: str, *, source: str) -> Parsed:
    """Entries of an arXiv listing feed; entries it cannot identify are counted as skipped."""
    if looks_like_html(text):
        return Parsed(error="got an HTML page instead of a feed; check the source url")
    xml = read_items(text, {"entry", "item"})
    if xml.root is not None and xml.root not in FEED_ROOTS:
        return Parsed(error=f"not an RSS or Atom feed (the document is <{xml.root}>)")
    parsed = Parsed(error=xml.error)
    for item in xml.items:
        entry = listing_entry(item, source=source)
        if entry is None:
            parsed.skipped += 1
        else:
            parsed.entries.append(entry)
    return parsed


def listing_entry(item: ET.Element, *, source: str) -> FeedEntry | None:
    """One `<entry>` / `<item>` as a FeedEntry; None without an arXiv id or a title."""
    found = children_by_name(item)
    link = _link(item, found)
    about = item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
    raw_title = child_text(found, "title") or ""
    legacy = _LEGACY_TITLE.search(raw_title)
    ids = [child_text(found, "id"), child_text(found, "guid"), legacy and legacy["id"], about, link]
    parsed_id = next((p for p in map(parse_arxiv_id, ids) if p), None)
    title = plain_text(raw_title[: legacy.start()] if legacy else raw_title)
    if parsed_id is None or not title:
        return None
    arxiv_id, version = parsed_id
    description = child_text(found, "summary") or child_text(found, "description") or ""
    announce_type, abstract = _announcement(description, found, legacy)
    categories = _categories(found, legacy)
    published = parse_timestamp(child_text(found, "published") or child_text(found, "pubdate"))
    return FeedEntry(
        source=source,
        key=arxiv_id,
        title=title,
        abstract=abstract,
        authors=split_authors(_creators(found)),
        categories=categories,
        primary_category=categories[0] if categories else None,
        arxiv_id=arxiv_id,
        version=version,
        doi=normalise_doi(child_text(found, "doi")),
        link=link,
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        announce_type=announce_type,
        journal_ref=plain_text(child_text(found, "journal_reference")) or None,
        published=published,
        updated=parse_timestamp(child_text(found, "updated")),
        announced_on=_announced_on(published, announce_type),
    )


def _announcement(
    description: str, found: dict[str, list[ET.Element]], legacy: re.Match[str] | None
) -> tuple[str | None, str]:
    declared = child_text(found, "announce_type")
    match = _DESCRIPTION.match(description)
    if match:
        return (declared or match["type"]).lower(), plain_text(match["abstract"])
    if legacy is not None:
        kind = "replace" if legacy["updated"] else "new"
        return declared or kind, html_to_text(description)
    return (declared.lower() if declared else None), plain_text(description)


def _categories(
    found: dict[str, list[ET.Element]], legacy: re.Match[str] | None
) -> tuple[str, ...]:
    terms = [
        (element.get("term") or element.text or "").strip() for element in found.get("category", ())
    ]
    if legacy is not None and legacy["cat"]:
        terms.insert(0, legacy["cat"].split()[0])
    return tuple(dict.fromkeys(term for term in terms if term))


def _creators(found: dict[str, list[ET.Element]]) -> str:
    names = [child_text({"c": [c]}, "c") or "" for c in found.get("creator", ())]
    names += [
        child_text(children_by_name(author), "name") or "" for author in found.get("author", ())
    ]
    return ", ".join(html_to_text(name) if "<" in name else name for name in names if name)


def _link(item: ET.Element, found: dict[str, list[ET.Element]]) -> str | None:
    for element in found.get("link", ()):
        href = element.get("href")
        if href and element.get("rel", "alternate") == "alternate":
            return href.strip()
        if not href and element.text:
            return element.text.strip()
    return None


def _announced_on(published: datetime | None, announce_type: str | None) -> date | None:
    if published is None or (announce_type and announce_type not in NEW_TYPES):
        return None
    # The listing's own calendar day (arXiv stamps it midnight US Eastern).
    return published.date()
