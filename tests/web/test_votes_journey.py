"""Learning from votes, end to end, on SQLite and PostgreSQL: real arXiv papers (cs.CV of
three listing days from the shared corpus) with the real sentence model's vectors, digests
delivered through the real pipeline to a real SMTP server, votes cast by opening the links
in those emails against the running app, and the preferences page in a real headless
Chromium.

Two identical subscribers follow "image generation"; only Ada votes, Bob is the control.
After Ada's 👎 on "Large Language Models are Universal Reasoners for Visual Generation", the
next day's papers that look like it (by sentence vector) sit lower in her digest than in
Bob's: the closest one drops, and none of the others rises. Two more votes and the model
takes over: her preferences page names the papers it favours and disfavours, and her next
digest differs from Bob's; "Forget my votes" resets it, and her next digest is Bob's again.
"""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from sqlalchemy import select

from digest.pipeline.compose import compose_digest
from digest.pipeline.deliver import deliver_due
from digest.pipeline.embed import configured_model, remember_topics
from digest.rank.embed import Embedder, paper_text
from digest.records import FeedEntry
from digest.send.transport import SmtpTransport
from digest.store.engine import transaction
from digest.store.feedback import vote_counts
from digest.store.papers import ingest_entries
from digest.store.schema import PaperRow
from digest.store.subscribers import SubscriberInput, get_subscriber, upsert_subscriber
from digest.store.vectors import store_paper_vectors
from tests.corpus import listing_day
from tests.web.conftest import Site, both_databases, plain_text
from tests.web.test_browser import OUTPUT, browser

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = ["browser"]  # the fixture, shared with the sign-up journey
pytestmark = [pytest.mark.browser, pytest.mark.slow]

DAYS = (date(2026, 5, 6), date(2026, 5, 7), date(2026, 5, 11))  # the third is days later
TOPIC = "image generation"
DISLIKED = "2605.04040"  # Large Language Models are Universal Reasoners for Visual Generation
ADA, BOB = "ada@example.org", "bob@example.org"
LOOK_ALIKE = 0.5  # cosine to the 👎 paper from which a paper of the next day looks like it

Corpus = dict[date, list[tuple[FeedEntry, np.ndarray]]]


@pytest.fixture(scope="module")
def corpus(shared_data: Path, embedder: Embedder) -> Corpus:
    """The cs.CV papers of each day, with the real model's vectors (embedded once, as a
    fetch would embed them)."""
    days: Corpus = {}
    for day in DAYS:
        entries = [e for e in listing_day(shared_data, day) if e.primary_category == "cs.CV"]
        vectors = embedder.embed([paper_text(e.title, e.abstract or "") for e in entries])
        days[day] = list(zip(entries, vectors, strict=True))
    return days


def publish(site: Site, corpus: Corpus, day: date) -> dict[str, int]:
    """Store the day's papers as fetched at 01:00 UTC, with their vectors; returns the row
    id of every stored paper by key."""
    model_id = configured_model(site.settings).model_id
    with transaction(site.engine) as session:
        ingest_entries(session, [e for e, _ in corpus[day]], now=_at(day, 1))
        ids = {row.key: row.id for row in session.execute(select(PaperRow.key, PaperRow.id))}
        store_paper_vectors(session, model_id, {ids[e.key]: v for e, v in corpus[day]})
    return ids


def subscribe(site: Site, email: str) -> None:
    with transaction(site.engine) as session:
        upsert_subscriber(
            session,
            SubscriberInput(email=email, topics=(TOPIC,), status="active").validate(),
            default_timezone="UTC",
            default_send_at="07:00",
        )
    remember_topics(site.engine, configured_model(site.settings), [TOPIC])


def deliver(site: Site, day: date) -> None:
    """Deliver what is due at 08:00 UTC that day (in a thread of its own: Playwright's loop
    runs in this one)."""

    async def run() -> None:
        transport = SmtpTransport(site.settings.smtp)
        try:
            report = await deliver_due(site.settings, site.engine, transport, now=_at(day, 8))
            assert report.sent == 2, report
        finally:
            await transport.close()

    worker = threading.Thread(target=asyncio.run, args=(run(),))
    worker.start()
    worker.join()


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def latest_text(site: Site, email: str) -> str:
    return plain_text(site.messages_to(email)[-1])


def latest_html(site: Site, email: str) -> str:
    """The HTML part of the latest message to `email` (where the 👍/👎 links are)."""
    for part in site.messages_to(email)[-1].walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("the message has no text/html part")


def picks(site: Site, email: str) -> list[int]:
    """The papers of the latest digest to `email`, in its order (by their 👎 links)."""
    found = re.findall(
        re.escape(site.url) + r'/feedback/[^/"\s]+/(\d+)/down', latest_html(site, email)
    )
    return list(dict.fromkeys(int(n) for n in found))


def vote_link(site: Site, email: str, paper: int, vote: str) -> str:
    pattern = re.escape(site.url) + rf'/feedback/[^/"\s]+/{paper}/{vote}'
    match = re.search(pattern, latest_html(site, email))
    assert match, f"no {vote} link for paper {paper} in the latest mail to {email}"
    return match[0]


def click(site: Site, link: str) -> None:
    answer = site.client.get(link)
    assert answer.status_code == 200, answer.text[:300]


def as_read(site: Site, email: str) -> str:
    """The latest digest's text as any reader would read it: links and address masked."""
    text = re.sub(re.escape(site.url) + r"/\S+", "<link>", latest_text(site, email))
    return text.replace(email, "<reader>")


@both_databases
def test_a_vote_moves_look_alikes_down_and_forgetting_restores_the_digest(
    site: Site, corpus: Corpus, browser: Browser
) -> None:
    vectors = {e.key: v for day in DAYS for e, v in corpus[day]}
    titles = {e.key: e.title for day in DAYS for e, _ in corpus[day]}
    subscribe(site, ADA)
    subscribe(site, BOB)

    # Day 1: the same digest for both; Ada opens the 👎 link of one paper.
    ids = publish(site, corpus, DAYS[0])
    deliver(site, DAYS[0])
    assert picks(site, ADA) == picks(site, BOB)
    assert ids[DISLIKED] in picks(site, ADA)
    click(site, vote_link(site, ADA, ids[DISLIKED], "down"))

    # Day 2: the next day's papers most like it rank lower for Ada than for Bob: one of
    # them drops, and none of those Bob got rises.
    ids = publish(site, corpus, DAYS[1])
    keys = {db_id: key for key, db_id in ids.items()}
    deliver(site, DAYS[1])
    ada, bob = picks(site, ADA), picks(site, BOB)
    new = {e.key for e, _ in corpus[DAYS[1]]}

    def nearness(paper: int) -> float:
        """How much a paper looks like the one Ada voted 👎 on (cosine of their vectors)."""
        return float(vectors[keys[paper]] @ vectors[DISLIKED])

    look_alikes = sorted(
        (p for p in bob if keys[p] in new and nearness(p) >= LOOK_ALIKE), key=nearness
    )[::-1]
    assert len(look_alikes) >= 2
    places = {p: (bob.index(p), ada.index(p) if p in ada else len(ada)) for p in look_alikes}
    seen = {titles[keys[p]]: place for p, place in places.items()}
    assert any(for_ada > for_bob for for_bob, for_ada in places.values()), seen  # one drops
    assert all(for_ada >= for_bob for for_bob, for_ada in places.values()), seen  # none rises

    # Two more votes from Ada's second digest: the model takes over.
    liked = min(ada, key=nearness)
    disliked = max((p for p in ada if p != liked), key=nearness)
    click(site, vote_link(site, ADA, liked, "up"))
    click(site, vote_link(site, ADA, disliked, "down"))
    publish(site, corpus, DAYS[2])
    moment = _at(DAYS[2], 8)
    preview = [
        compose_digest(site.settings, site.engine, e, DAYS[2], now=moment) for e in (ADA, BOB)
    ]
    assert [p.paper.id for p in preview[0].picks] != [p.paper.id for p in preview[1].picks]

    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(site.link_in_last_mail(ADA, "preferences"))
    votes = page.locator("#votes")
    assert "From your 3 votes (1 👍, 2 👎)" in votes.inner_text()
    assert page.locator("#more-like li a").all_inner_texts() == [titles[keys[liked]]]
    less = page.locator("#less-like li a").all_inner_texts()
    assert sorted(less) == sorted([titles[DISLIKED], titles[keys[disliked]]])
    first = page.locator("#less-like li a").first.get_attribute("href")
    assert first in {f"https://arxiv.org/abs/{DISLIKED}", f"https://arxiv.org/abs/{keys[disliked]}"}
    votes.screenshot(path=str(OUTPUT / f"votes-learned-{site.engine.dialect.name}.png"))

    page.click("button:has-text('Forget my votes')")
    page.wait_for_url("**done=forgotten**")
    assert "Your votes are forgotten" in page.content()
    assert "You have not voted yet" in page.locator("#votes").inner_text()
    assert page.locator("#more-like").count() == 0
    page.locator("#votes").screenshot(
        path=str(OUTPUT / f"votes-forgotten-{site.engine.dialect.name}.png")
    )
    page.context.close()
    with transaction(site.engine) as session:
        assert vote_counts(session, get_subscriber(session, ADA).id) == (0, 0)

    # Day 3: Ada's digest is Bob's again, paper for paper and word for word.
    deliver(site, DAYS[2])
    assert picks(site, ADA)
    assert picks(site, ADA) == picks(site, BOB)
    assert as_read(site, ADA) == as_read(site, BOB)
    assert picks(site, ADA) == [p.paper.db_id for p in preview[1].picks]
