"""What the emails show: records turned into display-ready views.

`paper_view` shapes one paper (remembered: a day's papers are shaped once for all digests);
`plan_digest` plans a whole digest: subject, preheader, heading, lead, the papers grouped
under topic headings when that reads better, and the trending list; `digest_sections` gives
each pick its number, level of detail and reason. Templates only print these fields (and
wrap them for the plain-text part).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from digest.records import Digest, LikedUpdate, Paper, Pick, Subscriber
from digest.render.text import compact_count, excerpt, one_line, plain_math, short_authors, shorten

_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})$")
_SAFE_URL = re.compile(r"^https?://[^\s<>\"'\x00-\x1f\x7f]{1,500}$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Detail:
    """How much of each paper to show; fewer words when a digest carries many papers.

    `compact` papers take one short paragraph: title, first author, why, PDF and code.
    """

    sentences: int
    excerpt_chars: int
    authors: int
    title_chars: int = 300
    compact: bool = False


FULL = Detail(sentences=3, excerpt_chars=420, authors=3)
SHORT = Detail(sentences=1, excerpt_chars=200, authors=3)
COMPACT = Detail(sentences=0, excerpt_chars=0, authors=1, title_chars=120, compact=True)
MINIMAL = Detail(sentences=0, excerpt_chars=0, authors=2)  # trending list


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str
    note: str = ""  # shown after the label in HTML (★ 1.2k)
    text_note: str = ""  # the same in the plain-text part (1.2k stars)


@dataclass(frozen=True, slots=True)
class PaperView:
    compact: bool
    title: str
    url: str | None
    authors: str
    meta: str
    excerpt: str
    links: tuple[Link, ...]
    upvotes: str | None
    # Hugging Face's one-line summary, shown instead of the excerpt (and labelled as theirs).
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class FooterView:
    reason: str
    unsubscribe_url: str | None
    preferences_url: str | None
    footer_text: str
    feed_url: str | None = None  # the subscriber's private feed (digests only)
    archive_url: str | None = None  # this digest on the web (digests only)


@dataclass(frozen=True, slots=True)
class DigestPlan:
    subject: str
    preheader: str
    heading: str
    lead: str
    groups: Sequence[tuple[str | None, Sequence[Pick]]]  # under topic headings, best first
    trending: Sequence[Paper]


def safe_url(url: str | None) -> str | None:
    """`url` if it is a plain http(s) URL; anything else (javascript:, data:) is dropped."""
    if url and _SAFE_URL.match(url.strip()):
        return url.strip()
    return None


def _paper_links(paper: Paper, compact: bool) -> tuple[Link, ...]:
    arxiv = _ARXIV_ID.match(paper.id) is not None
    links: list[Link] = []
    pdf = safe_url(paper.pdf_url) or (f"https://arxiv.org/pdf/{paper.id}" if arxiv else None)
    if pdf:
        links.append(Link("PDF", pdf))
    if code := safe_url(paper.code_url):
        stars = compact_count(paper.stars) if paper.stars else ""
        links.append(
            Link("Code", code, f"★ {stars}" if stars else "", f"{stars} stars" * bool(stars))
        )
    if compact:
        return tuple(links)
    if project := safe_url(paper.project_url):
        links.append(Link("Project page", project))
    if hf := safe_url(paper.hf_url):
        votes = str(paper.upvotes) if paper.upvotes else ""
        links.append(
            Link(
                "Hugging Face", hf, f"▲ {votes}" if votes else "", f"{votes} upvotes" * bool(votes)
            )
        )
    return tuple(links)


@lru_cache(maxsize=16384)
def paper_view(paper: Paper, detail: Detail = FULL) -> PaperView:
    """One paper shaped for display (see the module docstring)."""
    arxiv = _ARXIV_ID.match(paper.id) is not None
    url = safe_url(paper.abs_url) or (f"https://arxiv.org/abs/{paper.id}" if arxiv else None)
    url = url or safe_url(paper.hf_url) or safe_url(paper.pdf_url)
    authors = short_authors(paper.authors, show=detail.authors)
    categories = ", ".join(one_line(c)[:20] for c in paper.categories[: 2 if detail.compact else 4])
    body = ""
    if detail.sentences:
        body = excerpt(paper.abstract, sentences=detail.sentences, limit=detail.excerpt_chars)
    return PaperView(
        compact=detail.compact,
        title=shorten(plain_math(one_line(paper.title)), detail.title_chars) or "(untitled)",
        url=url,
        authors=authors,
        meta=" · ".join(part for part in (authors, categories) if part),
        excerpt=body,
        links=_paper_links(paper, detail.compact),
        upvotes=str(paper.upvotes) if paper.upvotes else None,
        summary=_summary(paper.ai_summary) if detail.sentences else None,
    )


def _summary(text: str | None) -> str | None:
    """Hugging Face's one-line summary, on one line and at most 300 characters."""
    return shorten(one_line(text), 300) or None if text else None


@lru_cache(maxsize=4096)
def topic_label(topic: str) -> str:
    return shorten(one_line(topic), 60)


def detail_for(position: int, compact: bool) -> Detail:
    """How much of the paper at `position` (from 0) to show: less further down (size budget)."""
    if compact:
        return COMPACT
    if position < 10:
        return FULL
    return SHORT if position < 25 else COMPACT


@lru_cache(maxsize=4096)
def _heading_label(topic: str | None) -> str | None:
    """The heading a pick's topic goes under; None for no (or a blank) topic."""
    return (topic_label(topic) or None) if topic else None


def _headed(
    picks: Sequence[Pick], groups: dict[str | None, list[Pick]], *, weekly: bool = False
) -> Sequence[tuple[str | None, Sequence[Pick]]]:
    """Picks under their topic headings, or one untitled group when headings would not help.
    A weekly digest is always grouped by topic when it matched several."""
    named = [key for key in groups if key is not None]
    # Headings help only with several topics, enough papers, and some topic holding two.
    few = len(picks) < 4 or max(map(len, groups.values()), default=0) < 2
    if len(named) < 2 or (few and not weekly):
        return [(None, picks)]
    titled: list[tuple[str | None, Sequence[Pick]]] = [(key, groups[key]) for key in named]
    if None in groups:
        titled.append(("More for you", groups[None]))
    return titled


def _by_count(groups: dict[str | None, list[Pick]]) -> tuple[str, ...]:
    """The matched topics, most papers first (ties: best-ranked first)."""
    named = [key for key in groups if key is not None]
    return tuple(sorted(named, key=lambda label: -len(groups[label])))


@lru_cache(maxsize=4096)
def _topics_phrase(topics: tuple[str, ...], limit: int = 2) -> str:
    short = [shorten(topic, 40) for topic in topics]
    if len(short) <= limit:
        return short[0] if len(short) == 1 else ", ".join(short[:-1]) + " and " + short[-1]
    rest = len(short) - limit
    return ", ".join(short[:limit]) + f" and {rest} more topic" + "s" * (rest > 1)


def _count_phrase(n: int) -> str:
    return f"{n} new paper" + "s" * (n != 1)


@lru_cache(maxsize=64)
def _dates(day: date) -> tuple[str, str]:
    """(`Tue 14 May`, `Your papers for Tuesday, 14 May 2026`)."""
    return day.strftime("%a %-d %b"), "Your papers for " + day.strftime("%A, %-d %B %Y")


@lru_cache(maxsize=4096)
def _subject(day: str, count: int, topics: tuple[str, ...]) -> str:
    """`Tue 14 May: 7 new papers on diffusion models and RL agents` (one line, ≤ ~110)."""
    if not count:
        return f"{day}: no new papers on your topics today"
    about = f" on {_topics_phrase(topics)}" if topics else " for you"
    return shorten(f"{day}: {_count_phrase(count)}{about}", 110)


@lru_cache(maxsize=4096)
def _lead(count: int, topics: tuple[str, ...]) -> str:
    if not count:
        return "No new papers matched your topics today. We will look again tomorrow."
    about = f" on {_topics_phrase(topics, 3)}" if topics else " picked for you"
    return f"{_count_phrase(count)}{about}, best first."


def day_range(first: date, last: date) -> str:
    """`8–14 May`, `29 Apr – 5 May`, `29 Dec 2025 – 4 Jan 2026`."""
    if first.year != last.year:
        return f"{first:%-d %b %Y} – {last:%-d %b %Y}"
    if first.month != last.month:
        return f"{first:%-d %b} – {last:%-d %b}"
    return f"{first.day}–{last:%-d %b}"


@lru_cache(maxsize=4096)
def _weekly_subject(days: str, count: int, topics: tuple[str, ...]) -> str:
    """`Weekly digest, 8–14 May: 15 new papers on diffusion models and RL agents`."""
    if not count:
        return f"Weekly digest, {days}: no new papers on your topics this week"
    about = f" on {_topics_phrase(topics)}" if topics else " for you"
    return shorten(f"Weekly digest, {days}: {_count_phrase(count)}{about}", 110)


def _weekly_lead(count: int, topics: tuple[str, ...], days: str) -> str:
    if not count:
        return f"No new papers matched your topics from {days}. We will look again next week."
    about = f" on {_topics_phrase(topics, 3)}" if topics else " picked for you"
    return f"The best of the week, {days}: {_count_phrase(count)}{about}, by topic."


@lru_cache(maxsize=4096)
def _preheader(top_title: str | None, count: int) -> str:
    if top_title is None:
        return "Nothing new matched your topics today."
    text = "Top pick: " + one_line(top_title)
    if count > 1:
        text += f" · plus {count - 1} more"
    return shorten(text, 150)


def plan_digest(digest: Digest) -> DigestPlan:
    """Plan the whole digest (see the module docstring)."""
    picks = digest.picks
    groups: dict[str | None, list[Pick]] = {}
    for pick in picks:
        groups.setdefault(_heading_label(pick.topic), []).append(pick)
    topics = _by_count(groups)
    day, heading = _dates(digest.digest_date)
    subject, lead = _subject(day, len(picks), topics), _lead(len(picks), topics)
    if digest.since is not None:
        days = day_range(digest.since, digest.digest_date)
        heading = f"Your week in papers, {days}"
        subject = _weekly_subject(days, len(picks), topics)
        lead = _weekly_lead(len(picks), topics, days)
    return DigestPlan(
        subject=subject,
        preheader=_preheader(picks[0].paper.title if picks else None, len(picks)),
        heading=heading,
        lead=lead,
        groups=_headed(picks, groups, weekly=digest.since is not None),
        trending=list(digest.trending),
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """One pick as the digest shows it. `paper_id` is for the feedback links: None when the
    paper is shown compactly or was never stored."""

    number: str  # " 1." (right-aligned to the widest number)
    paper: PaperView
    reason: str
    paper_id: int | None


def digest_sections(
    plan: DigestPlan, *, compact: bool = False
) -> list[tuple[str | None, list[Entry]]]:
    """The plan's picks under their headings, in reading order; `compact` shows every paper
    compactly (what keeps a long digest under the size limit)."""
    count = sum(len(picks) for _, picks in plan.groups)
    width = 2 if count < 100 else 3  # the text part indents paper details by 4
    sections: list[tuple[str | None, list[Entry]]] = []
    position = 0
    for title, picks in plan.groups:
        entries = []
        for pick in picks:
            detail = detail_for(position, compact)
            position += 1
            entries.append(
                Entry(
                    number=f"{position:>{width}}.",
                    paper=paper_view(pick.paper, detail),
                    reason=shorten(one_line(pick.reason), 120 if detail.compact else 300),
                    paper_id=None if detail.compact else pick.paper.db_id,
                )
            )
        sections.append((title, entries))
    return sections


def interests(subscriber: Subscriber) -> list[str]:
    """What the subscriber follows, in words, for the welcome and confirmation emails."""
    lines = [topic_label(topic) for topic in subscriber.topics]
    lines += [f"papers by {shorten(one_line(a), 60)}" for a in subscriber.authors]
    lines += [f"category {one_line(c)[:20]}" for c in subscriber.categories]
    return [line for line in lines if line.strip()]


@dataclass(frozen=True, slots=True)
class UpdateView:
    """One line of "Updates on papers you liked": the paper, and its news in words."""

    title: str
    url: str | None
    news: str
    code_url: str | None


def update_view(update: LikedUpdate) -> UpdateView | None:
    """`update` in words: "version 3 on arXiv; code released; 118 upvotes on Hugging Face";
    None when nothing of it can be shown (a code link that is not http(s), say)."""
    paper = paper_view(update.paper, MINIMAL)
    news = []
    if update.version is not None:
        news.append(f"version {update.version} on arXiv")
    code_url = safe_url(update.code_url)
    if code_url:
        news.append("code released")
    if update.upvotes is not None:
        news.append(f"{compact_count(update.upvotes)} upvotes on Hugging Face")
    if not news:
        return None
    return UpdateView(shorten(paper.title, 150), paper.url, "; ".join(news), code_url)
