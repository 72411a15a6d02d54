"""Confirmation, welcome and goodbye emails: their links, words and headers."""

from __future__ import annotations

import re

from digest.render import Renderer
from tests.render.conftest import make_subscriber, parse, parts, read_html, read_link_token


def test_confirmation_carries_a_working_confirm_link(renderer: Renderer) -> None:
    subscriber = make_subscriber(id=31, status="pending")
    email = renderer.render_confirmation(subscriber)
    message = parse(email.data)
    text, html = parts(message)
    words, anchors = read_html(html)

    assert email.subject == "Confirm your Paper Digest subscription"
    confirm = [href for href, _ in anchors if "/confirm/" in href]
    assert confirm
    token = confirm[0].rsplit("/", 1)[1]
    assert read_link_token("confirm", token, subscriber).subscriber_id == 31
    assert confirm[0] in text
    assert "72 hours" in words
    assert "72 hours" in text
    assert "diffusion models" in words
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/preferences/" not in html  # nothing to manage before confirming


def test_welcome_lists_what_they_follow_and_when(renderer: Renderer) -> None:
    subscriber = make_subscriber(authors=("Yoshua Bengio",), categories=("cs.LG",))
    text, html = parts(parse(renderer.render_welcome(subscriber).data))
    words, anchors = read_html(html)

    assert "07:30" in words
    assert "Europe/Berlin" in words
    for phrase in ("graph neural networks", "papers by Yoshua Bengio", "category cs.LG"):
        assert phrase in words
        assert phrase in text
    assert any("/preferences/" in href for href, _ in anchors)
    assert any("/unsubscribe/" in href for href, _ in anchors)


def test_welcome_says_which_day_a_weekly_digest_comes(renderer: Renderer) -> None:
    daily = parts(parse(renderer.render_welcome(make_subscriber()).data))
    assert "Every day at 07:30" in " ".join(daily[0].split())
    weekly = make_subscriber(frequency="weekly", weekday=4)
    text, html = parts(parse(renderer.render_welcome(weekly).data))
    assert "Every Friday at 07:30" in " ".join(text.split())
    assert "Every Friday at 07:30" in read_html(html)[0]


def test_goodbye_offers_a_way_back_and_no_unsubscribe_link(renderer: Renderer) -> None:
    email = renderer.render_goodbye(make_subscriber(status="unsubscribed"))
    text, html = parts(parse(email.data))
    _, anchors = read_html(html)

    assert email.subject == "You are unsubscribed from Paper Digest"
    assert ("https://digest.example.org/", "subscribe again") in anchors
    assert not any("/unsubscribe/" in href for href, _ in anchors)
    assert "https://digest.example.org/" in text


def test_account_emails_have_distinct_message_ids_on_our_domain(renderer: Renderer) -> None:
    subscriber = make_subscriber()
    ids = [
        renderer.render_confirmation(subscriber).message_id,
        renderer.render_welcome(subscriber).message_id,
        renderer.render_goodbye(subscriber).message_id,
    ]
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"<[^@]+@example\.org>", mid) for mid in ids)
