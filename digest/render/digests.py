"""The digest's HTML and plain-text parts, written from pieces.

A day's papers go into thousands of digests, so what is the same for every subscriber is
rendered once, as pieces (`digest.render.pieces`): the page, the topic headings, each
paper's entry at each level of detail, each trending paper. Writing a message is filling
in what is personal: subject, lead, why each paper was picked, its feedback links, the
updates on papers the subscriber liked, and the footer.

    writer = DigestWriter(environment, links, context={"brand": …}, footer_text="…")
    parts = writer.write(digest, plan_digest(digest), footer)    # WrittenDigest
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from jinja2 import Environment, Template

from digest.records import Digest, Paper
from digest.render.links import LinkMaker
from digest.render.pieces import Piece, html_value
from digest.render.text import one_line, shorten, wrap
from digest.render.views import (
    MINIMAL,
    Detail,
    DigestPlan,
    FooterView,
    detail_for,
    paper_view,
    update_view,
)

# What a message fills into the page, in this order; the two inserts take the entries.
PAGE_VALUES = (
    "subject",
    "preheader",
    "heading",
    "lead",
    "reason",
    "preferences_url",
    "unsubscribe_url",
    "archive_url",
    "feed_url",
)
PAGE_INSERTS = ("papers", "trending", "updates")
_CACHE_LIMIT = 10_000  # papers' pieces kept per writer; a day's candidates need a few thousand


@dataclass(frozen=True, slots=True)
class WrittenDigest:
    """Both parts, lines ending in CRLF: the HTML in ASCII (7-bit when `html_fits`: every
    line is known to fit a mail line), the plain text in quoted-printable."""

    html: str
    text: str
    html_fits: bool


@dataclass(frozen=True, slots=True)
class _Entry:
    """One paper at one level of detail: its pieces, with the personal values to fill in."""

    paper: Paper
    html: Piece  # reason, more_url, less_url
    text: Piece  # number, why


@dataclass(frozen=True, slots=True)
class _Trend:
    """One trending paper, as both parts show it: the same in every digest."""

    paper: Paper
    html: str
    text: str
    fits: bool


@lru_cache(maxsize=8192)
def _reason(reason: str, compact: bool) -> tuple[str, str]:
    """Why a paper was picked: (escaped for HTML, the text part's indented `Why:` lines)."""
    short = shorten(one_line(reason), 120 if compact else 300)
    return html_value(short), _wrapped("Why: " + short, "    ") if short else ""


@lru_cache(maxsize=4096)
def _wrapped(text: str, indent: str = "") -> str:
    """`text` wrapped for the plain-text part, in CRLF lines."""
    return wrap(text, indent).replace("\n", "\r\n")


@lru_cache(maxsize=512)
def _levels(count: int, compact: bool) -> tuple[tuple[Detail, ...], tuple[str, ...]]:
    """For each of `count` papers: how much to show, and its number in the text part."""
    width = 2 if count < 100 else 3  # the text part indents paper details by 4
    details = tuple(detail_for(position, compact) for position in range(count))
    return details, tuple(f"{number:>{width}}." for number in range(1, count + 1))


def _page(template: Template, context: Mapping[str, Any], footer_text: str, **values: str) -> str:
    foot = FooterView(
        reason=values["reason"],
        reason_text=values["reason"],
        unsubscribe_url=values["unsubscribe_url"],
        preferences_url=values["preferences_url"],
        footer_text=footer_text,
        feed_url=values["feed_url"],
        archive_url=values["archive_url"],
    )
    return template.render({**context, **values, "foot": foot})


class DigestWriter:
    """Writes digests for one configuration; keeps each paper's pieces for later digests."""

    def __init__(
        self,
        environment: Environment,
        links: LinkMaker,
        *,
        context: Mapping[str, Any],
        footer_text: str,
    ) -> None:
        self._links = links
        # Entries are given their values ready: reasons escaped (once each, see `_reason`),
        # feedback links as they are, a base URL and a token in URL-safe base64, when the
        # base URL has nothing to escape.
        base = links.base_url
        urls = ("more_url", "less_url") if html_value(base) == base else ()
        self._verbatim = ("reason", *urls)
        self._html_parts = environment.get_template("_digest.html").module
        self._text_parts = environment.get_template("_digest.txt").module
        self._html_updates = environment.get_template("_updates.html").module
        self._text_updates = environment.get_template("_updates.txt").module
        self._html_page, self._text_page = (
            Piece(
                partial(_page, environment.get_template(name), context, footer_text),
                PAGE_VALUES,
                html=name.endswith(".html"),
                inserts=PAGE_INSERTS,
            )
            for name in ("digest.html", "digest.txt")
        )
        self._html_section = Piece(self._html_parts.section, ("title",), html=True)  # type: ignore[attr-defined]
        self._text_section = Piece(self._text_parts.section, ("title",), html=False)  # type: ignore[attr-defined]
        self._entries: dict[tuple[int, int], _Entry] = {}
        self._trends: dict[int, _Trend] = {}

    def write(
        self, digest: Digest, plan: DigestPlan, foot: FooterView, *, compact: bool = False
    ) -> WrittenDigest:
        """Both parts of `digest`; `compact` shows every paper compactly (the size limit)."""
        base = self._links.feedback_base(digest.subscriber)

        def feedback(paper_id: int) -> tuple[str, str]:
            return f"{base}{paper_id}/up", f"{base}{paper_id}/down"

        details, numbers = _levels(len(digest.picks), compact)
        entries = self._entries
        html: list[str] = []
        text: list[str] = []
        html_fits = True
        position = 0
        for title, picks in plan.groups:
            if title:
                html_fits &= self._html_section.write(html, (title,))
                self._text_section.write(text, (title,))
            for pick in picks:
                paper, detail = pick.paper, details[position]
                entry = entries.get((id(paper), id(detail)))
                if entry is None or entry.paper is not paper:
                    entry = self._entry(paper, detail)
                reason, why = _reason(pick.reason, detail.compact)
                if detail.compact or paper.db_id is None:
                    html_fits &= entry.html.write(html, (reason, "", ""))
                else:
                    html_fits &= entry.html.write(html, (reason, *feedback(paper.db_id)))
                entry.text.write(text, (numbers[position], why))
                position += 1
        trends = [self._trend(paper) for paper in plan.trending]
        updates_html, updates_text, updates_fit = self._updates(digest)
        html_fits &= updates_fit
        values = (
            plan.subject,
            plan.preheader,
            plan.heading,
            plan.lead,
            foot.reason,
            foot.preferences_url or "",
            foot.unsubscribe_url or "",
            foot.archive_url or "",
            foot.feed_url or "",
        )
        html_page: list[str] = []
        text_page: list[str] = []
        html_inserts = (html, [t.html for t in trends], updates_html)
        html_fits &= self._html_page.write(html_page, values, html_inserts)
        text_values = (*values[:3], _wrapped(plan.lead), foot.reason_text, *values[5:])
        text_inserts = (text, [t.text for t in trends], updates_text)
        self._text_page.write(text_page, text_values, text_inserts)
        return WrittenDigest(
            html="".join(html_page),
            text="".join(text_page),
            html_fits=html_fits and all(t.fits for t in trends),
        )

    def _entry(self, paper: Paper, detail: Detail) -> _Entry:
        """The pieces of `paper` at `detail`, made now and kept for later digests."""
        if len(self._entries) >= _CACHE_LIMIT:
            self._entries.clear()
        view = paper_view(paper, detail)
        entry = _Entry(
            paper=paper,
            html=Piece(
                partial(self._html_parts.entry, view),  # type: ignore[attr-defined]
                ("reason", "more_url", "less_url"),
                html=True,
                verbatim=self._verbatim,
            ),
            text=Piece(
                partial(self._text_parts.entry, view),  # type: ignore[attr-defined]
                ("number", "why"),
                html=False,
                verbatim=("number", "why"),
            ),
        )
        self._entries[id(paper), id(detail)] = entry
        return entry

    def _updates(self, digest: Digest) -> tuple[list[str], list[str], bool]:
        """The lines on liked papers' news (personal, so written afresh each time)."""
        html: list[str] = []
        text: list[str] = []
        fits = True
        for update in digest.updates:
            view = update_view(update)
            if view is None:
                continue
            fits &= Piece(partial(self._html_updates.update, view), (), html=True).write(html)  # type: ignore[attr-defined]
            Piece(partial(self._text_updates.update, view), (), html=False).write(text)  # type: ignore[attr-defined]
        return html, text, fits

    def _trend(self, paper: Paper) -> _Trend:
        trend = self._trends.get(id(paper))
        if trend is None or trend.paper is not paper:
            if len(self._trends) >= _CACHE_LIMIT:
                self._trends.clear()
            view = paper_view(paper, MINIMAL)
            html: list[str] = []
            text: list[str] = []
            fits = Piece(partial(self._html_parts.trend, view), (), html=True).write(html)  # type: ignore[attr-defined]
            Piece(partial(self._text_parts.trend, view), (), html=False).write(text)  # type: ignore[attr-defined]
            trend = _Trend(paper, "".join(html), "".join(text), fits)
            self._trends[id(paper)] = trend
        return trend
