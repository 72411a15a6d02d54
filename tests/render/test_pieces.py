"""Pieces: a template cut at its values writes what Jinja would render, ready for mail."""

from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import Environment, TemplateError

from digest.render import Renderer
from digest.render.mime import MAX_BODY_LINE
from digest.render.pieces import Piece
from digest.render.templates import build_environment
from digest.render.text import ascii_html
from tests.render.conftest import make_digest, make_paper, make_settings, parse, parts

# Text as `one_line` leaves it: no control characters, anything else.
LINE = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=120)
HTML = """<p class="why">{% if reason %}<b>Why:</b> {{ reason }}{% endif %}</p>
<p><a href="{{ url }}">{{ title }}</a> &middot; {{ title }} · é</p>"""
TEXT = "{% if reason %}Why: {{ reason }}\n{% endif %}{{ title }} · {{ url }} = {{ title }}\n-- \n"


def piece(source: str, *, html: bool, **options: object) -> tuple[Piece, Environment]:
    environment = build_environment()
    template = environment.from_string(source) if html else Environment().from_string(source)
    return Piece(template.render, ("reason", "url", "title"), html=html, **options), environment  # type: ignore[arg-type]


def written(chunks: list[str]) -> str:
    return "".join(chunks)


@settings(max_examples=200, deadline=None)
@given(reason=LINE, url=LINE, title=LINE)
def test_an_html_piece_writes_what_jinja_renders_escaped_in_ascii(
    reason: str, url: str, title: str
) -> None:
    html, environment = piece(HTML, html=True)
    chunks: list[str] = []
    fits = html.write(chunks, (reason, url, title))
    body = written(chunks)

    expected = environment.from_string(HTML).render(reason=reason, url=url, title=title)
    exact = ascii_html(expected).replace("\n", "\r\n") + "\r\n"
    if max(map(len, exact.split("\r\n"))) <= MAX_BODY_LINE:
        assert body == exact
    else:  # the same HTML but for long lines broken at a space
        assert body.split() == exact.split()
    assert body.isascii()
    assert body.endswith("\r\n")
    assert "\n" not in body.replace("\r\n", "")
    assert fits == (max(map(len, body.split("\r\n"))) <= MAX_BODY_LINE)


@settings(max_examples=200, deadline=None)
@given(reason=LINE, url=LINE, title=LINE)
def test_a_text_piece_writes_quoted_printable_of_what_jinja_renders(
    reason: str, url: str, title: str
) -> None:
    text, _ = piece(TEXT, html=False)
    chunks: list[str] = []
    text.write(chunks, (reason, url, title))
    body = written(chunks)

    expected = Environment().from_string(TEXT).render(reason=reason, url=url, title=title)
    expected += "" if expected.endswith("\n") else "\n"  # a piece ends its last line
    assert binascii.a2b_qp(body.encode("ascii")).decode() == expected.replace("\n", "\r\n")
    assert all(len(line) <= 76 for line in body.split("\r\n"))
    assert "\n" not in body.replace("\r\n", "")


def test_line_breaks_in_a_value_cannot_break_the_lines_of_the_part() -> None:
    html, _ = piece(HTML, html=True)
    text, _ = piece(TEXT, html=False)
    html_chunks: list[str] = []
    text_chunks: list[str] = []
    html.write(html_chunks, ("a\r\nb\nc\rd\0e", "u", "t"))
    text.write(text_chunks, ("a\r\nb\nc\rd", "u", "t"))

    assert "a  b c d e" in written(html_chunks)
    assert "\r" not in written(html_chunks).replace("\r\n", "")
    assert "\n" not in written(html_chunks).replace("\r\n", "")
    assert "\n" not in written(text_chunks).replace("\r\n", "")
    assert "\r" not in written(text_chunks).replace("\r\n", "")


def test_long_html_lines_are_broken_at_spaces_or_reported() -> None:
    html, _ = piece(HTML, html=True)
    spaced: list[str] = []
    unbroken: list[str] = []

    assert html.write(spaced, ("word " * 400, "u", "t"))
    assert max(map(len, written(spaced).split("\r\n"))) <= MAX_BODY_LINE
    assert "word " * 3 in written(spaced)
    assert not html.write(unbroken, ("x" * 2000, "u", "t"))


def test_a_filter_on_a_value_stops_the_load() -> None:
    reversed_title, _ = piece("<p>{{ title | reverse }}</p>", html=True)
    with pytest.raises(TemplateError, match="marker"):
        reversed_title.write([], ("r", "u", "t"))


def test_an_insert_must_stand_alone_on_its_line() -> None:
    template = Environment().from_string("<div>{{ papers }}</div>\n")
    inline = Piece(template.render, (), html=True, inserts=("papers",))
    with pytest.raises(TemplateError, match="alone"):
        inline.write([], (), ([" "],))


def test_verbatim_values_are_written_as_given() -> None:
    html, _ = piece(HTML, html=True, verbatim=("reason",))
    chunks: list[str] = []
    html.write(chunks, ("<b>already escaped</b>", "<u>", "t"))
    assert "<b>already escaped</b>" in written(chunks)
    assert "&lt;u&gt;" in written(chunks)


def test_the_text_part_is_quoted_printable_and_reads_as_the_preview(renderer: Renderer) -> None:
    digest = make_digest(12, paper=lambda n: make_paper(n, authors=("Zoë Ångström", "李雷")))
    message = parse(renderer.render_digest(digest).data)
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert isinstance(text_part, EmailMessage)
    assert isinstance(html_part, EmailMessage)
    text, _ = parts(message)

    assert text_part["Content-Transfer-Encoding"] == "quoted-printable"
    assert html_part["Content-Transfer-Encoding"] == "7bit"
    assert all(len(line) <= 76 for line in str(text_part.get_payload()).splitlines())
    assert "Zoë Ångström, 李雷" in text
    preview = renderer.digest_text(digest)
    assert text.replace("\r\n", "\n").split("Manage your")[0] == preview.split("Manage your")[0]


def test_rendering_is_deterministic_but_for_ids_dates_and_link_stamps(tmp_path: Path) -> None:
    now = datetime(2026, 5, 14, 5, 30, tzinfo=UTC)
    digest = make_digest(8, trending=(make_paper(60, upvotes=5),))
    renderer = Renderer(make_settings(tmp_path))
    first, second = (parse(renderer.render_digest(digest, now=now).data) for _ in range(2))

    def settled(message: EmailMessage) -> tuple[object, ...]:
        text, html = parts(message)
        headers = [(k, v) for k, v in message.items() if k not in ("Message-ID", "Content-Type")]
        token = re.compile(r"[\w-]+\.[\w-]{6}\.[\w-]{27}")
        return tuple(token.sub("TOKEN", str(part)) for part in (headers, text, html))

    assert settled(first) == settled(second)
