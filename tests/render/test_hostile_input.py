"""Hostile and awkward input: escaped, folded or dropped; never a broken or injected message."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.render import Renderer
from tests.render.conftest import (
    make_digest,
    make_paper,
    make_settings,
    make_subscriber,
    parse,
    parts,
    read_html,
)

HOSTILE_TITLE = '<script>alert("x")</script> <b>Bold</b> & "quoted" \'single\''


def test_html_in_titles_and_abstracts_is_shown_as_text(renderer: Renderer) -> None:
    digest = make_digest(
        1,
        paper=lambda n: make_paper(
            n, title=HOSTILE_TITLE, abstract="<img src=x onerror=alert(1)> Fine. Next."
        ),
    )
    _, html = parts(parse(renderer.render_digest(digest).data))
    words, _ = read_html(html)

    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;" in html
    assert '<script>alert("x")</script> <b>Bold</b> & "quoted"' in words


def test_unsafe_link_schemes_are_dropped(renderer: Renderer) -> None:
    digest = make_digest(
        1,
        paper=lambda n: make_paper(
            n,
            abs_url="javascript:alert(1)",
            code_url="data:text/html,<script>x</script>",
            hf_url='https://huggingface.co/papers/1" onmouseover="x',
        ),
    )
    _, html = parts(parse(renderer.render_digest(digest).data))
    hrefs = [href for href, _ in read_html(html)[1]]

    assert all(href.startswith("https://") for href in hrefs)
    assert "javascript:" not in html
    assert "data:text" not in html
    assert "https://arxiv.org/abs/2605.10000" in hrefs  # falls back to the arXiv page


def test_crlf_and_quotes_in_topics_cannot_inject_headers(renderer: Renderer) -> None:
    topics = ("evil\r\nBcc: victim@example.com", 'quote " and \\ backslash', "tab\there")
    digest = make_digest(4, topics=topics, subscriber=make_subscriber(topics=topics))
    email = renderer.render_digest(digest)
    message = parse(email.data)

    assert message["Bcc"] is None
    assert "\n" not in message["Subject"]
    assert "evil Bcc: victim@example.com" in message["Subject"]
    assert message.defects == []


def test_crlf_and_quotes_in_the_sender_name_are_quoted(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, from_name='Lab "Digest"\r\nBcc: x@example.com')
    message = parse(Renderer(settings).render_digest(make_digest()).data)

    assert message["Bcc"] is None
    assert message["From"].addresses[0].display_name == 'Lab "Digest" Bcc: x@example.com'
    assert message["From"].addresses[0].addr_spec == "digest@example.org"


def test_non_ascii_sender_and_subject_use_encoded_words(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, from_name="Résumé des articles — 論文")
    topics = ("обучение с подкреплением", "تعلم الآلة", "🤖 robots")
    digest = make_digest(3, topics=topics, subscriber=make_subscriber(topics=topics))
    email = Renderer(settings).render_digest(digest)
    message = parse(email.data)

    head = email.data.split(b"\r\n\r\n")[0]
    assert head.isascii()
    assert b"=?utf-8?b?" in head
    assert message["From"].addresses[0].display_name == "Résumé des articles — 論文"
    assert "обучение с подкреплением" in message["Subject"]
    assert message["Subject"] == email.subject


def test_rtl_text_emoji_and_very_long_words_keep_the_layout(renderer: Renderer) -> None:
    long_word = "Pneumonoultramicroscopic" * 200
    digest = make_digest(
        2,
        paper=lambda n: make_paper(
            n,
            title=f"نموذج لغوي كبير 🚀 {long_word}",
            abstract=f"{long_word}. שלום עולם 🙂. Third.",
        ),
    )
    data = renderer.render_digest(digest).data
    text, html = parts(parse(data))

    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert "نموذج لغوي كبير 🚀" in read_html(html)[0]
    assert 'dir="auto"' in html
    assert all(len(line) <= 72 for line in text.splitlines() if "://" not in line)
    assert "…" in read_html(html)[0]  # the 4,800-letter word is shortened


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    title=st.text(min_size=1, max_size=300),
    topic=st.text(min_size=1, max_size=80),
    reason=st.text(max_size=200),
)
def test_any_text_yields_a_clean_parseable_message(
    renderer: Renderer, title: str, topic: str, reason: str
) -> None:
    digest = make_digest(2, paper=lambda n: make_paper(n, title=title), topics=(topic,))
    digest = digest.__class__(
        digest.subscriber,
        digest.digest_date,
        tuple(pick.__class__(pick.paper, pick.score, reason, pick.topic) for pick in digest.picks),
    )
    email = renderer.render_digest(digest)
    message = parse(email.data)

    assert message.defects == []
    assert set(message.keys()) >= {"From", "To", "Subject", "List-Unsubscribe"}
    assert len(message.keys()) == len(set(message.keys()))
    assert "\n" not in message["Subject"]
    assert "\r" not in message["Subject"]
    assert max(len(line) for line in email.data.split(b"\r\n")) <= 998
    # CRLF form throughout, as the message says of itself (the SMTP transport trusts it).
    assert email.crlf
    assert email.data.count(b"\n") == email.data.count(b"\r\n") == email.data.count(b"\r")
    assert email.data.endswith(b"\r\n")
    text, html = parts(message)
    assert "<script" not in html.replace("&lt;script", "")
    assert "Thank you to arXiv" in text


def test_control_characters_in_the_footer_text_are_dropped(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, footer_text="Lab\x1a\x00 Street\r\n12345\x07 Town")
    renderer = Renderer(settings)
    for email in (
        renderer.render_digest(make_digest()),
        renderer.render_welcome(make_subscriber()),
    ):
        text, html = parts(parse(email.data))
        assert "Lab Street" in read_html(html)[0]
        assert "12345 Town" in text
        assert not any(char in text + html for char in "\x1a\x00\x07")
