"""Fixtures for the email tests: a renderer, and digests built straight from records."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from datetime import date, time
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from digest.config import Settings, load_settings
from digest.records import Digest, Paper, Pick, Subscriber
from digest.render import Renderer
from digest.tokens import Purpose, TokenData, check_claim, read_claim

SECRET = "test-secret-key"
TOPICS = ("diffusion models", "retrieval augmented generation", "graph neural networks")
ABSTRACT = (
    "We study denoising diffusion models for molecule generation. Our method, e.g. with "
    "guidance, improves validity by 12% over strong baselines. We release code and weights. "
    "A fourth sentence that should not appear in the excerpt."
)


def make_settings(tmp_path: Path, **mail: Any) -> Settings:
    return load_settings(
        service={"data_dir": str(tmp_path / "data")},
        web={"secret_key": SECRET, "base_url": "https://digest.example.org"},
        mail={
            "from_address": "digest@example.org",
            "footer_text": "Example Research Lab\n1 Example Street, 12345 Example Town",
            **mail,
        },
        sources=[],
    )


@pytest.fixture
def render_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def renderer(render_settings: Settings) -> Renderer:
    return Renderer(render_settings)


def make_paper(number: int, **fields: Any) -> Paper:
    values: dict[str, Any] = {
        "id": f"2605.{10000 + number}",
        "title": f"Paper number {number} on guided diffusion for molecules",
        "abstract": ABSTRACT,
        "authors": ("Ada Lovelace", "Alan Turing"),
        "categories": ("cs.LG", "q-bio.BM"),
        "db_id": 100 + number,
    }
    values.update(fields)
    return Paper(**values)


def make_subscriber(**fields: Any) -> Subscriber:
    values: dict[str, Any] = {
        "id": 7,
        "email": "reader@example.org",
        "status": "active",
        "topics": TOPICS,
        "timezone": "Europe/Berlin",
        "send_at": time(7, 30),
        "link_secret": "reader-link-secret",
    }
    values.update(fields)
    return Subscriber(**values)


def read_link_token(purpose: Purpose, token: str, subscriber: Subscriber) -> TokenData:
    """What the web app or the inbound listener reads from a token made for `subscriber`."""
    return check_claim(SECRET, read_claim(SECRET, purpose, token), subscriber)


def make_digest(
    count: int = 6,
    *,
    subscriber: Subscriber | None = None,
    paper: Callable[[int], Paper] = make_paper,
    topics: tuple[str | None, ...] = TOPICS,
    trending: tuple[Paper, ...] = (),
) -> Digest:
    picks = tuple(
        Pick(
            paper=paper(n),
            score=1.0 - n / 100,
            reason=f'Matches "{topics[n % len(topics)]}" in the title',
            topic=topics[n % len(topics)],
        )
        for n in range(count)
    )
    return Digest(subscriber or make_subscriber(), date(2026, 5, 14), picks, trending)


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """(plain text, HTML) of a multipart/alternative message."""
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None
    assert html_part is not None
    return str(text_part.get_content()), str(html_part.get_content())


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[str, str]] = []
        self.words: list[str] = []
        self._href: str | None = None
        self._anchor_text: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("head", "style", "title") or "preheader" in (values.get("class") or ""):
            self._skipping.append(tag)
        if tag == "a":
            self._href, self._anchor_text = values.get("href") or "", []

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and self._skipping[-1] == tag:
            self._skipping.pop()
        if tag == "a" and self._href is not None:
            self.anchors.append((self._href, " ".join("".join(self._anchor_text).split())))
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._anchor_text.append(data)
        if not self._skipping:
            self.words.append(data)


def read_html(html: str) -> tuple[str, list[tuple[str, str]]]:
    """(visible text with whitespace collapsed, [(href, link text)]) of an HTML part."""
    reader = _Reader()
    reader.feed(html)
    return " ".join(" ".join(reader.words).split()), reader.anchors
