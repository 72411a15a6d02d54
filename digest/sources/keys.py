"""Canonical paper keys: arXiv ids (version stripped), DOIs and normalised links.

One paper has one key whatever lists it: the arXiv id without its version (`2401.01234`,
`hep-th/9901001`), else `doi:<lower-case DOI>`, else `url:<normalised link>`. A DOI that arXiv
itself minted (`10.48550/arXiv.2401.01234`) and a link to an arXiv abstract or PDF page both
resolve to the arXiv id, so the same paper from a journal feed and an arXiv listing merges.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7}"
_ARXIV_ID = re.compile(
    rf"(?:arxiv\.org/(?:abs|pdf|html)/|oai:arxiv\.org:|arxiv:|10\.48550/arxiv\.|^)"
    rf"(?P<id>{_NEW_ID}|{_OLD_ID})(?:v(?P<version>\d+))?(?:\.pdf)?/?$",
    re.IGNORECASE,
)
_DOI = re.compile(r"(10\.\d{4,9}/\S+)", re.IGNORECASE)
_BIORXIV_VERSION = re.compile(r"^(10\.1101/[\d.]+)v\d+$", re.IGNORECASE)
_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_[ce]id|ref|source|rss)$", re.I)


def parse_arxiv_id(text: str | None) -> tuple[str, int | None] | None:
    """(id, version) from an arXiv id, `oai:` id, `arXiv:` label, abs/pdf link or arXiv DOI."""
    if not text:
        return None
    candidate = text.strip().split("?", 1)[0].split("#", 1)[0]
    match = _ARXIV_ID.search(candidate)
    if not match:
        return None
    arxiv_id = match["id"]
    if "/" in arxiv_id:
        archive, number = arxiv_id.split("/", 1)
        arxiv_id = f"{archive.lower()}/{number}"
    version = int(match["version"]) if match["version"] else None
    return arxiv_id, version


def normalise_doi(text: str | None) -> str | None:
    """The bare, lower-case DOI in `text` (a DOI, `doi:` label or doi.org link), else None."""
    if not text:
        return None
    match = _DOI.search(text.strip())
    if not match:
        return None
    doi = match[1].rstrip(".,;)]>").lower()
    biorxiv = _BIORXIV_VERSION.match(doi)
    return biorxiv[1] if biorxiv else doi


def normalise_link(url: str | None) -> str | None:
    """A link reduced to what identifies the page: https, no `www.`, no tracking, no fragment."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/") or "/"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _TRACKING_PARAMS.match(key)
    ]
    return urlunsplit(("https", host, path, urlencode(sorted(query)), ""))


def canonical_key(
    *, arxiv_id: str | None = None, doi: str | None = None, link: str | None = None
) -> str | None:
    """The canonical key of a paper from what a source knows about it; None if nothing."""
    if arxiv_id:
        return arxiv_id
    for text in (doi, link):
        parsed = parse_arxiv_id(text) if text else None
        if parsed:
            return parsed[0]
    clean_doi = normalise_doi(doi) or _doi_in_link(link)
    if clean_doi:
        return f"doi:{clean_doi}"
    clean_link = normalise_link(link)
    return f"url:{clean_link}" if clean_link else None


def _doi_in_link(link: str | None) -> str | None:
    """A DOI carried by a doi.org link or a bioRxiv/medRxiv content link."""
    if not link:
        return None
    host = (urlsplit(link).hostname or "").lower()
    if host.endswith(("doi.org", "biorxiv.org", "medrxiv.org")):
        return normalise_doi(urlsplit(link).path)
    return None
