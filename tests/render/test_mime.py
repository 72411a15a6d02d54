"""MIME assembly: any text and HTML come out as a clean `multipart/alternative` message in
CRLF form, 7-bit where the part allows it, headers folded without breaking links or words."""

from __future__ import annotations

import re
from email.errors import HeaderParseError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.render.mime import build_message
from tests.render.conftest import parse, parts

HEADERS = [("From", "Paper Digest <digest@example.org>"), ("To", "reader@example.org")]
UNSUBSCRIBE = (
    "<https://digest.example.org/unsubscribe/Nw.axMMtw.Xi5-Duz6DnxjsrabPyfl8Wbdjq0>, "
    "<mailto:unsubscribe+Nw.axMMtw.Xi5-Duz6DnxjsrabPyfl8Wbdjq0@example.org?subject=unsubscribe>"
)
# Text as templates write it: any characters but CR (lines end in LF); no surrogates.
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r"))


def transfer_encodings(data: bytes) -> list[str]:
    return [str(part["Content-Transfer-Encoding"]) for part in parse(data).iter_parts()]


def test_ascii_parts_go_out_as_they_are() -> None:
    text, html = "Hello,\nyour papers.\n", "<p>Hello &#183; papers</p>\n"
    data = build_message(HEADERS, text, html)

    assert transfer_encodings(data) == ["7bit", "7bit"]
    assert b"\r\n\r\nHello,\r\nyour papers.\r\n" in data
    assert b"<p>Hello &#183; papers</p>\r\n" in data
    assert [part.get_content_charset() for part in parse(data).iter_parts()] == ["utf-8"] * 2


def test_other_parts_go_out_quoted_printable_or_base64_whichever_is_shorter() -> None:
    text = "Schrödinger · 分子 · 量子\n"  # mostly not ASCII: base64 is shorter
    html = "<p>" + "word " * 400 + "</p>\n"  # 2,007 characters on one line
    data = build_message(HEADERS, text, html)

    assert transfer_encodings(data) == ["base64", "quoted-printable"]
    assert parts(parse(data)) == (text.replace("\n", "\r\n"), html.replace("\n", "\r\n"))
    assert max(map(len, data.split(b"\r\n"))) <= 78


def test_mostly_ascii_text_stays_readable_in_the_message() -> None:
    text = "Paper Digest · Your papers\n\n1. Schrödinger bridges for diffusion\n"
    data = build_message(HEADERS, text, "<p>Hello</p>\n")

    assert transfer_encodings(data) == ["quoted-printable", "7bit"]
    assert b"Paper Digest =C2=B7 Your papers\r\n\r\n1. Schr=C3=B6dinger bridges" in data
    assert parts(parse(data))[0] == text.replace("\n", "\r\n")


@settings(max_examples=150, deadline=None)
@given(text=TEXT, html=TEXT)
def test_any_parts_make_a_clean_message_that_reads_back_the_same(text: str, html: str) -> None:
    data = build_message(HEADERS, text, html)
    message = parse(data)

    assert message.defects == []
    assert all(part.defects == [] for part in message.iter_parts())
    assert data.isascii()
    assert data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r")
    assert max(map(len, data.split(b"\r\n"))) <= 998
    read_text, read_html = (part.replace("\r\n", "\n") for part in parts(message))
    assert read_text == text.rstrip("\n") + "\n"
    assert read_html == html.rstrip("\n") + "\n"


def test_list_unsubscribe_keeps_its_links_readable() -> None:
    data = build_message([*HEADERS, ("List-Unsubscribe", UNSUBSCRIBE)], "x", "y")
    head = data.split(b"\r\n\r\n")[0].decode("ascii")

    assert "=?" not in head
    assert parse(data)["List-Unsubscribe"].strip() == UNSUBSCRIBE
    assert max(map(len, head.split("\r\n"))) <= 78 + 20  # the URL itself is not split
    assert re.search(r"<https://digest\.example\.org/unsubscribe/[\w.-]+>,\r\n <mailto:", head)


def test_a_non_ascii_phrase_keeps_its_spaces() -> None:
    subject = "Thu 14 May: 3 new papers on обучение с подкреплением and تعلم الآلة"
    data = build_message([*HEADERS, ("Subject", subject)], "x", "y")

    assert data.split(b"\r\n\r\n")[0].isascii()
    assert parse(data)["Subject"] == subject


def test_a_value_that_would_start_another_header_is_refused() -> None:
    with pytest.raises(HeaderParseError):
        build_message([("Subject", "Hello\r\nBcc: victim@example.com")], "x", "y")


@pytest.mark.parametrize(
    "subject",
    ["Papers on =?utf-8?b?SGk=?= and more", "Papers on " + "Pneumono" * 150],
    ids=["looks-encoded", "overlong-word"],
)
def test_a_header_reads_as_written_and_fits_its_lines(subject: str) -> None:
    data = build_message([*HEADERS, ("Subject", subject)], "x", "y")

    head = data.split(b"\r\n\r\n")[0]
    assert parse(data)["Subject"] == subject
    assert max(map(len, head.split(b"\r\n"))) <= 78
    assert max(map(len, re.findall(rb"=\?utf-8\?[bq]\?[^?]*\?=", head))) <= 75
