"""Hugging Face Daily Papers (`huggingface.co/api/daily_papers?date=YYYY-MM-DD`).

Each run asks for today's and yesterday's lists (UTC; upvotes keep coming in after the
day), paging with `p` and `limit`, unless the source url pins a `date`. Entries bring
upvotes, the GitHub repository and its stars, the project page, the AI keywords and the
day the paper was featured (`paper.submittedOnDailyAt`). Nearly all are arXiv papers and
merge onto the arXiv paper of the same id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from digest.records import FeedEntry
from digest.sources.keys import canonical_key, parse_arxiv_id
from digest.sources.text import parse_timestamp, plain_text
from digest.sources.xmlfeed import Parsed, looks_like_html

PAGE_SIZE = 100
MAX_PAGES = 5
DAYS_BACK = 1


def daily_requests(url: str, today: date) -> list[tuple[str, dict[str, str]]]:
    """(base url, params) of the first page of each day to fetch."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    params.setdefault("limit", str(PAGE_SIZE))
    params.pop("p", None)
    if "date" in params:
        return [(base, params)]
    days = [today - timedelta(days=back) for back in range(DAYS_BACK + 1)]
    return [(base, {**params, "date": day.isoformat()}) for day in days]


def parse_daily_papers(text: str, *, source: str) -> Parsed:
    """Entries of one daily_papers page; a JSON error body becomes the error message."""
    if looks_like_html(text):
        return Parsed(error="got an HTML page instead of JSON; check the source url")
    items, error = _json_items(text)
    parsed = Parsed(error=error)
    for item in items:
        entry = daily_entry(item, source=source) if isinstance(item, dict) else None
        if entry is None:
            parsed.skipped += 1
        else:
            parsed.entries.append(entry)
    return parsed


def daily_entry(item: dict[str, Any], *, source: str) -> FeedEntry | None:
    """One daily-papers item; None without an id or a title."""
    paper = item.get("paper") if isinstance(item.get("paper"), dict) else item
    assert isinstance(paper, dict)
    parsed_id = parse_arxiv_id(_text(paper.get("id")))
    title = plain_text(_text(paper.get("title")) or _text(item.get("title")))
    if parsed_id is None or not title:
        return None
    arxiv_id = parsed_id[0]
    featured = parse_timestamp(_text(paper.get("submittedOnDailyAt")))
    return FeedEntry(
        source=source,
        key=canonical_key(arxiv_id=arxiv_id) or arxiv_id,
        title=title,
        abstract=plain_text(_text(paper.get("summary")) or _text(item.get("summary"))),
        authors=tuple(_author_names(paper.get("authors"))),
        arxiv_id=arxiv_id,
        link=f"https://huggingface.co/papers/{arxiv_id}",
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        code_url=_url(paper.get("githubRepo")),
        project_url=_url(paper.get("projectPage")),
        hf_url=f"https://huggingface.co/papers/{arxiv_id}",
        ai_summary=plain_text(_text(paper.get("ai_summary")))[:1000] or None,
        keywords=tuple(_strings(paper.get("ai_keywords")))[:30],
        upvotes=_count(paper.get("upvotes")),
        stars=_count(paper.get("githubStars")),
        published=parse_timestamp(_text(paper.get("publishedAt"))),
        featured_on=featured.date() if featured else None,
    )


def _json_items(text: str) -> tuple[list[Any], str | None]:
    """The items of the JSON array, keeping whole items before any breakage."""
    try:
        data = json.loads(text)
    except ValueError:
        items = list(_complete_items(text))
        return items, f"malformed JSON (kept {len(items)} complete items)"
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict):
        message = data.get("error") or data.get("message") or "an unexpected JSON object"
        return [], f"Hugging Face answered with an error: {plain_text(str(message))[:200]}"
    return [], "expected a JSON list of papers"


def _complete_items(text: str) -> Iterator[Any]:
    decoder = json.JSONDecoder()
    position = text.find("[") + 1
    if position == 0:
        return
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        try:
            item, position = decoder.raw_decode(text, position)
        except ValueError:
            return
        yield item


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        yield from (plain_text(v) for v in value if isinstance(v, str) and v.strip())


def _author_names(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        for author in value:
            name = author.get("name") if isinstance(author, dict) else None
            if isinstance(name, str) and name.strip():
                yield plain_text(name)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _url(value: Any) -> str | None:
    if isinstance(value, str) and value.strip().lower().startswith(("https://", "http://")):
        return value.strip()
    return None
