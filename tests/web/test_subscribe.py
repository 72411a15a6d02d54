"""Subscribing on the front page: the form, double opt-in by email, and every bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from digest.rank.embed import Embedder
from digest.records import FeedEntry
from digest.store.engine import transaction
from digest.store.papers import ingest_entries
from digest.store.schema import EventRow, SubscriberRow
from digest.store.subscribers import get_subscriber
from tests.conftest import assert_topics_embedded
from tests.send.smtpd import FaultPlan
from tests.web.conftest import Site, both_databases


def subscribe(site: Site, **fields: Any) -> Any:
    form = {"email": "ada@example.org", "topics": "speculative decoding\nLLM agents"}
    form.update(fields)
    form.setdefault("csrf_token", site.csrf_token())
    return site.client.post("/subscribe", data=form)


def subscriber_rows(site: Site) -> list[SubscriberRow]:
    with transaction(site.engine) as session:
        return list(session.scalars(select(SubscriberRow)))


def confirmations_sent(site: Site) -> int:
    with transaction(site.engine) as session:
        query = select(func.count()).where(EventRow.kind == "confirmation_sent")
        return int(session.scalar(query) or 0)


@both_databases
def test_front_page_shows_the_newest_day_and_a_subscribe_form(site: Site) -> None:
    day = datetime(2026, 3, 2, 20, tzinfo=UTC)
    entries = [
        FeedEntry(
            source="arxiv",
            key="2603.00001",
            title="Speculative Decoding at Scale",
            abstract="We study speculative decoding. " * 30,
            authors=("Ada Lovelace", "Alan Turing"),
            categories=("cs.CL", "cs.LG"),
            abs_url="https://arxiv.org/abs/2603.00001",
            code_url="https://github.com/example/spec",
            published=day,
        ),
        FeedEntry(
            source="hf",
            key="2603.00002",
            title="A <b>Bold</b> Title",
            upvotes=42,
            published=day,
            code_url="javascript:alert(1)",
        ),
    ]
    with transaction(site.engine) as session:
        ingest_entries(session, entries, now=day)
        ingest_entries(
            session,
            [FeedEntry(source="arxiv", key="2602.09999", title="Yesterday's paper")],
            now=day - timedelta(days=1),
        )
    page = site.client.get("/")
    assert page.status_code == 200
    html = page.text
    assert 'action="/subscribe"' in html
    assert "Speculative Decoding at Scale" in html
    assert "Ada Lovelace, Alan Turing" in html
    assert "cs.CL" in html
    assert "https://github.com/example/spec" in html
    assert "▲ 42" in html
    assert "A &lt;b&gt;Bold&lt;/b&gt; Title" in html  # escaped, never markup
    assert "javascript:" not in html
    assert "Yesterday&#39;s paper" not in html
    # the most upvoted first; an earlier day one click (or a date) away
    assert html.index("Bold") < html.index("Speculative Decoding at Scale")
    assert 'type="date"' in html
    earlier = site.client.get("/", params={"day": "2026-03-01"})
    assert earlier.status_code == 200
    assert "Yesterday&#39;s paper" in earlier.text


def test_front_page_without_papers_and_bad_day_values(site: Site) -> None:
    assert "No papers yet" in site.client.get("/").text
    for bad in ("yesterday", "2026-13-40", "9" * 500):
        answer = site.client.get("/", params={"day": bad})
        assert answer.status_code == 400
        assert "Not a date" in answer.text
    assert site.client.get("/", params={"page": "-3"}).status_code == 400
    assert site.client.get("/", params={"day": "1999-01-01"}).status_code == 200


def test_subscribing_sends_one_confirmation_and_stores_a_pending_subscriber(
    site: Site, embedder: Embedder
) -> None:
    answer = subscribe(
        site,
        email="  Ada@Example.ORG ",
        categories="cs.CL, cs.LG",
        authors="Yann LeCun",
        exclude="survey",
        timezone="Europe/Berlin",
        send_at="06:45",
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/subscribed"
    assert "Check your inbox" in site.client.get("/subscribed").text
    (row,) = subscriber_rows(site)
    assert (row.email, row.status) == ("ada@example.org", "pending")
    assert row.topics == ["speculative decoding", "LLM agents"]
    assert (row.categories, row.authors, row.exclude) == (
        ["cs.CL", "cs.LG"],
        ["Yann LeCun"],
        ["survey"],
    )
    assert (row.timezone, row.send_at) == ("Europe/Berlin", "06:45")
    (mail,) = site.messages_to("ada@example.org")
    assert "confirm" in mail["Subject"].lower()
    assert site.link_in_last_mail("ada@example.org", "confirm")
    assert_topics_embedded(site.engine, embedder, "speculative decoding", "LLM agents")


@both_databases
def test_the_confirm_link_shows_a_button_and_only_the_post_confirms(site: Site) -> None:
    subscribe(site)
    link = site.link_in_last_mail("ada@example.org", "confirm")
    page = site.client.get(link)  # what a mail scanner does
    assert page.status_code == 200
    assert '<form method="post"' in page.text
    assert subscriber_rows(site)[0].status == "pending"
    token = site.csrf_token(link)
    done = site.client.post(link, data={"csrf_token": token})
    assert done.status_code == 200
    assert "You are subscribed" in done.text
    assert "/preferences/" in done.text
    assert subscriber_rows(site)[0].status == "active"
    welcome = site.messages_to("ada@example.org")[-1]
    assert "welcome" in welcome["Subject"].lower()
    # reusing the link changes nothing and sends nothing
    again = site.client.post(link, data={"csrf_token": token})
    assert again.status_code == 200
    assert len(site.messages_to("ada@example.org")) == 2
    assert "already subscribed" in site.client.get(link).text


def test_confirming_needs_the_csrf_token(site: Site) -> None:
    subscribe(site)
    link = site.link_in_last_mail("ada@example.org", "confirm")
    site.client.get(link)
    for token in (None, "", "forged.token.value", "x" * 5000):
        data = {} if token is None else {"csrf_token": token}
        assert site.client.post(link, data=data).status_code == 403
    assert subscriber_rows(site)[0].status == "pending"


@both_databases
def test_an_active_address_gets_no_second_subscription_and_the_page_tells_nothing(
    site: Site,
) -> None:
    first = subscribe(site, email="new@example.org")
    with transaction(site.engine) as session:
        session.add(
            SubscriberRow(
                email="old@example.org",
                status="active",
                topics=["graphs"],
                categories=[],
                authors=[],
                exclude=[],
                timezone="UTC",
                send_at="07:00",
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
                token_version=0,
            )
        )
    second = subscribe(site, email="old@example.org", topics="something else")
    assert (first.status_code, first.headers["location"]) == (
        second.status_code,
        second.headers["location"],
    )
    assert site.messages_to("old@example.org") == []
    with transaction(site.engine) as session:
        old = get_subscriber(session, "old@example.org")
    assert (old.status, old.topics) == ("active", ("graphs",))


@both_databases
def test_at_most_three_confirmations_per_address_per_day(site: Site) -> None:
    answers = [subscribe(site).status_code for _ in range(5)]
    assert answers == [303] * 5  # the visitor sees no difference
    assert len(site.messages_to("ada@example.org")) == 3
    assert confirmations_sent(site) == 3


def test_the_honeypot_field_stores_and_sends_nothing(site: Site) -> None:
    answer = subscribe(site, website="http://spam.example")
    assert answer.status_code == 303
    assert subscriber_rows(site) == []
    assert site.smtp.received == []


def test_a_form_without_a_valid_csrf_token_is_refused(site: Site) -> None:
    assert subscribe(site, csrf_token="").status_code == 403
    assert subscribe(site, csrf_token=site.csrf_token() + "x").status_code == 403
    other_browser = site.client.cookies.get("digest_csrf")
    site.client.cookies.clear()
    site.client.cookies.set("digest_csrf", "A" * 32)
    assert other_browser
    assert subscribe(site, csrf_token=site.csrf_token()).status_code == 303
    site.client.cookies.clear()
    token = site.csrf_token()
    site.client.cookies.clear()  # a browser that refuses cookies
    refused = site.client.post("/subscribe", data={"email": "a@b.org", "csrf_token": token})
    assert refused.status_code == 403
    assert "cookie" in refused.text


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"email": "not-an-address"}, "email", "valid email address"),
        ({"email": "a@b"}, "email", "valid email address"),
        ({"email": "x" * 10_240 + "@example.org"}, "email", "far too long"),
        ({"email": "ada@example.org\r\nBcc: victim@example.org"}, "email", "valid email"),
        ({"topics": "\n".join(f"topic {n}" for n in range(500))}, "topics", "At most 20"),
        ({"topics": "t" * 300}, "topics", "longer than 200"),
        ({"timezone": "Mars/Olympus"}, "timezone", "not a time zone"),
        ({"timezone": "UTC\r\nX-Injected: 1"}, "timezone", "not a time zone"),
        ({"send_at": "25:99"}, "send_at", "HH:MM"),
        ({"categories": "cs.CL <script>"}, "categories", "not an arXiv category"),
    ],
)
def test_bad_input_shows_the_form_again_with_a_clear_message(
    site: Site, fields: dict[str, str], field: str, message: str
) -> None:
    answer = subscribe(site, **fields)
    assert answer.status_code == 400
    assert f'id="{field}-error"' in answer.text
    assert message in answer.text
    assert subscriber_rows(site) == []
    assert site.smtp.received == []


def test_bad_input_keeps_what_the_visitor_typed(site: Site) -> None:
    answer = subscribe(site, email="nope", topics="my <topic>")
    assert "my &lt;topic&gt;" in answer.text
    assert 'value="nope"' in answer.text


def test_idn_addresses_are_normalised_and_unicode_mailboxes_refused_clearly(site: Site) -> None:
    assert subscribe(site, email="Ada@Bücher.example").status_code == 303
    assert subscribe(site, email="user@xn--bcher-kva.example").status_code == 303
    rows = subscriber_rows(site)
    assert sorted(r.email for r in rows) == [
        "ada@xn--bcher-kva.example",
        "user@xn--bcher-kva.example",
    ]
    refused = subscribe(site, email="jürgen@example.org")
    assert refused.status_code == 400
    assert "non-ASCII" in refused.text
    assert len(subscriber_rows(site)) == 2


def test_topics_may_also_come_as_repeated_fields_and_unicode(site: Site) -> None:
    data = {
        "email": "ada@example.org",
        "topic": ["diffusion models", "Übersetzung 機械翻訳"],
        "csrf_token": site.csrf_token(),
    }
    assert site.client.post("/subscribe", data=data).status_code == 303
    assert subscriber_rows(site)[0].topics == ["diffusion models", "Übersetzung 機械翻訳"]


@both_databases
def test_when_the_confirmation_cannot_be_sent_nothing_is_stored(site: Site) -> None:
    site.smtp.plan = FaultPlan(rcpt_reply="451 4.3.0 try again later")
    answer = subscribe(site)
    assert answer.status_code == 503
    assert "nothing was saved" in answer.text
    assert subscriber_rows(site) == []
    assert confirmations_sent(site) == 0
    site.smtp.plan = FaultPlan()
    assert subscribe(site).status_code == 303
    assert len(site.messages_to("ada@example.org")) == 1
