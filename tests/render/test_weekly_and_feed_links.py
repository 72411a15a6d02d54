"""A weekly digest's subject and grouping, Hugging Face's summary, and the links every digest
carries to itself on the web and to the subscriber's feed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from digest.records import Paper
from digest.render import Renderer
from digest.tokens import check_claim, read_claim
from tests.render.conftest import make_digest, make_paper, parse, parts, read_html

SUMMARY = "A one-line summary of guided diffusion for molecules, written by a model."


def test_a_weekly_digest_says_so_and_names_the_days_it_covers(renderer: Renderer) -> None:
    digest = replace(make_digest(7), since=date(2026, 5, 7))
    email = renderer.render_digest(digest)
    assert email.subject.startswith("Weekly digest, 7–14 May: 7 new papers on ")
    text, html = parts(parse(email.data))
    words, _ = read_html(html)
    assert "Your week in papers, 7–14 May" in words
    assert "Your week in papers, 7–14 May" in text
    across = replace(make_digest(3), since=date(2026, 4, 30))
    assert renderer.render_digest(across).subject.startswith("Weekly digest, 30 Apr – 14 May:")


def test_a_weekly_digest_is_grouped_by_topic_even_when_small(renderer: Renderer) -> None:
    digest = replace(
        make_digest(2, topics=("diffusion models", "protein design")), since=date(2026, 5, 7)
    )
    text, _ = parts(parse(renderer.render_digest(digest).data))
    assert "== diffusion models ==" in text
    assert "== protein design ==" in text
    daily = make_digest(2, topics=("diffusion models", "protein design"))
    assert "== diffusion models ==" not in parts(parse(renderer.render_digest(daily).data))[0]


def test_hugging_face_summary_replaces_the_excerpt_and_is_labelled(renderer: Renderer) -> None:
    def paper(n: int) -> Paper:
        return make_paper(n, ai_summary=SUMMARY if n == 0 else None)

    text, html = parts(parse(renderer.render_digest(make_digest(2, paper=paper)).data))
    words, _ = read_html(html)
    assert f"Hugging Face's summary: {SUMMARY}" in words
    assert f"Hugging Face's summary: {SUMMARY}" in " ".join(text.split())
    assert words.count("Hugging Face's summary") == 1  # the other paper keeps its excerpt
    assert "improves validity by 12% over strong baselines." in words


def test_every_digest_links_to_itself_on_the_web_and_to_the_feed(renderer: Renderer) -> None:
    digest = make_digest(3)
    text, html = parts(parse(renderer.render_digest(digest).data))
    _, anchors = read_html(html)
    view = [href for href, label in anchors if label == "View in your browser"]
    assert len(view) == 1
    assert view[0].endswith(f"/{digest.digest_date.isoformat()}")
    assert f"View in your browser: {view[0].rsplit('/', 2)[0]}/" in text
    token = view[0].rsplit("/", 2)[1]
    secret = renderer.settings.secret_key()
    claim = read_claim(secret, "archive", token)
    assert check_claim(secret, claim, digest.subscriber).subscriber_id == digest.subscriber.id
    feed = [href for href, label in anchors if label == "your private Atom feed"]
    assert len(feed) == 1
    claim = read_claim(secret, "feed", feed[0].rsplit("/", 1)[1])
    assert check_claim(secret, claim, digest.subscriber).subscriber_id == digest.subscriber.id
    assert f"Your private feed (for a feed reader): {feed[0].rsplit('/', 1)[0]}/" in text
