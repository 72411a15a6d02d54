"""The finished digest message: structure, headers, links, as a mail client would parse it."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from digest.records import OutgoingEmail
from digest.render import Renderer
from digest.tokens import Purpose, TokenError
from tests.render.conftest import (
    make_digest,
    make_settings,
    make_subscriber,
    parse,
    parts,
    read_link_token,
)

URL = re.compile(r"https://digest\.example\.org/(\w+)/([\w.\-]+)")
FEEDBACK = re.compile(r"https://digest\.example\.org/feedback/([\w.\-]+)/(\d+)/(up|down)\b")


def test_digest_is_multipart_alternative_text_then_html(renderer: Renderer) -> None:
    message = parse(renderer.render_digest(make_digest()).data)

    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert message.defects == []
    assert all(part.defects == [] for part in message.iter_parts())
    text, html = parts(message)
    assert "Paper number 0 on guided diffusion" in text
    assert "Paper number 0 on guided diffusion" in html


def test_digest_carries_every_required_header(renderer: Renderer) -> None:
    now = datetime(2026, 5, 14, 5, 30, tzinfo=UTC)
    email = renderer.render_digest(make_digest(), now=now)
    message = parse(email.data)

    assert message["From"] == "Paper Digest <digest@example.org>"
    assert message["To"] == "reader@example.org"
    assert re.fullmatch(r"<[^@<>\s]+@example\.org>", message["Message-ID"])
    assert message["Message-ID"] == email.message_id
    assert parsedate_to_datetime(message["Date"]) == now
    assert message["List-Id"] == "Paper Digest <daily.example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    https, mailto = (value.strip() for value in message["List-Unsubscribe"].split(","))
    assert https.startswith("<https://digest.example.org/unsubscribe/")
    assert mailto.startswith("<mailto:unsubscribe+")
    assert mailto.endswith("@example.org?subject=unsubscribe>")


def test_unsubscribe_links_and_verp_sender_name_the_subscriber(renderer: Renderer) -> None:
    subscriber = make_subscriber(id=4242, token_version=3)
    email = renderer.render_digest(make_digest(subscriber=subscriber))
    message = parse(email.data)
    header_url = message["List-Unsubscribe"].split(",")[0].strip()[1:-1]
    mailto_token = re.search(r"unsubscribe\+([^@]+)@", message["List-Unsubscribe"])
    verp_token = re.fullmatch(r"bounces\+(.+)@example\.org", email.envelope_from)
    assert mailto_token is not None
    assert verp_token is not None

    found: list[tuple[Purpose, str]] = [
        ("unsubscribe", header_url.rsplit("/", 1)[1]),
        ("unsubscribe", mailto_token[1]),
        ("bounce", verp_token[1]),
    ]
    for purpose, token in found:
        assert read_link_token(purpose, token, subscriber).subscriber_id == 4242
        other = replace(subscriber, link_secret="another subscriber's secret")
        with pytest.raises(TokenError) as refused:
            read_link_token(purpose, token, other)
        assert refused.value.gone
    assert len(email.envelope_from.split("@")[0]) <= 64


def test_visible_footer_links_and_acknowledgement_in_both_parts(renderer: Renderer) -> None:
    text, html = parts(parse(renderer.render_digest(make_digest()).data))

    for body in (text, html):
        found = {kind for kind, _ in URL.findall(body)}
        assert {"unsubscribe", "preferences"} <= found
        assert "Thank you to arXiv for use of its open access interoperability." in body
        assert "Example Research Lab" in body
        assert "1 Example Street, 12345 Example Town" in body
        assert "reader@example.org" in body
    assert ">Unsubscribe</a>" in html
    assert ">Manage your preferences</a>" in html


def test_feedback_links_vote_on_the_right_paper(renderer: Renderer) -> None:
    digest = make_digest(3)
    _, html = parts(parse(renderer.render_digest(digest).data))

    votes = FEEDBACK.findall(html)
    assert sorted((int(paper), vote) for _, paper, vote in votes) == [
        (100, "down"), (100, "up"), (101, "down"), (101, "up"), (102, "down"), (102, "up"),
    ]  # fmt: skip
    (token,) = {token for token, _, _ in votes}  # one token for the whole email
    assert read_link_token("feedback", token, digest.subscriber).subscriber_id == 7
    assert ">More like this</a>" in html
    assert ">Less like this</a>" in html


def test_every_line_is_crlf_terminated_and_short(renderer: Renderer) -> None:
    data = renderer.render_digest(make_digest(10)).data

    assert b"\n" not in data.replace(b"\r\n", b"")
    head, _, body = data.partition(b"\r\n\r\n")
    assert max(len(line) for line in head.split(b"\r\n")) <= 78 + 60  # URLs are not split
    assert max(len(line) for line in body.split(b"\r\n")) <= 998


def test_outgoing_email_fields_match_the_message(renderer: Renderer) -> None:
    email = renderer.render_digest(make_digest())
    message = parse(email.data)

    assert isinstance(email, OutgoingEmail)
    assert email.to == "reader@example.org"
    assert email.subject == message["Subject"]
    # The value may start on the next line (folded after the colon), which is not part of it.
    assert email.headers["List-Unsubscribe"] == message["List-Unsubscribe"].strip()


def test_each_message_gets_its_own_message_id(renderer: Renderer) -> None:
    digest = make_digest()
    ids = {renderer.render_digest(digest).message_id for _ in range(20)}
    assert len(ids) == 20


def test_reply_to_and_custom_list_id_from_config(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, reply_to="team@example.org", list_id="papers.example.org")
    message = parse(Renderer(settings).render_digest(make_digest()).data)

    assert message["Reply-To"] == "team@example.org"
    assert message["List-Id"] == "Paper Digest <papers.example.org>"
