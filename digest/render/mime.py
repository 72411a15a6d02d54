"""MIME assembly: header lines and the `multipart/alternative` body, built as bytes directly.

The stdlib `EmailMessage` builds the same message through its policy machinery at about a
thousandth of a second each; a delivery run renders thousands, so this module writes the
bytes itself with the stdlib's C helpers (`binascii` quoted-printable and base64):

- every line ends in CRLF and none is longer than 78 characters (998 is the hard limit);
- header values are cleaned of CR, LF and other control characters (no header injection),
  folded at spaces, and written as RFC 2047 encoded-words when they are not ASCII;
- display names with specials are quoted; non-ASCII names become encoded-words;
- bodies go out as 7-bit when they can (HTML nearly always: see `body_part`), else base64;
  a part written by pieces (`digest.render.pieces`) is already in CRLF form with its line
  lengths known, and goes out without a pass over its text;
- the boundary carries 96 random bits, so no paper text can contain it, by chance or design.

The result parses cleanly with `email.message_from_bytes(…, policy=email.policy.default)`.
"""

from __future__ import annotations

import binascii
import os
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache

MAX_LINE = 78
MAX_BODY_LINE = 998
MAX_QP_LINE = 76
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
_ATOM_SAFE = re.compile(r"^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$")
_ENCODED_WORD_BYTES = 45  # base64 of 45 bytes is 60 characters: the word stays ≤ 75


def clean_header_text(value: str) -> str:
    """`value` on one line: control characters (CR, LF, tabs …) become single spaces."""
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        return value  # the common case, checked at C speed
    return " ".join(_CONTROL.sub(" ", value).split())


def _encoded_words(text: str) -> list[str]:
    """`text` as base64 encoded-words, never splitting a character between two words."""
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for char in text:
        width = len(char.encode("utf-8"))
        if size + width > _ENCODED_WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    if chunk:
        words.append("".join(chunk))
    return [
        "=?utf-8?b?" + binascii.b2a_base64(word.encode("utf-8"), newline=False).decode() + "?="
        for word in words
    ]


def _fold(name: str, tokens: Iterable[str]) -> str:
    """`Name: tokens…` folded at token boundaries so no line passes 78 characters."""
    lines: list[str] = []
    line = name + ":"
    for token in tokens:
        if len(line) + 1 + len(token) > MAX_LINE and line != name + ":":
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return "\r\n".join(lines)


def _fold_at_spaces(name: str, value: str) -> str:
    """`_fold(name, value.split(" "))` for a value with single spaces, found by search."""
    line = f"{name}: {value}"
    lines: list[str] = []
    start = len(name) + 2  # the first word stays on the first line, however long
    while len(line) > MAX_LINE:
        cut = line.rfind(" ", start, MAX_LINE + 1)
        if cut < 0 and (cut := line.find(" ", start)) < 0:
            break
        lines.append(line[:cut])
        line = line[cut:]
        start = 1
    lines.append(line)
    return "\r\n".join(lines)


def header_line(name: str, value: str) -> str:
    """One header field, cleaned, encoded when not ASCII, and folded (no final CRLF)."""
    value = clean_header_text(value)
    if value.isascii() and "=?" not in value and len(value) < 900:
        return _fold_at_spaces(name, value)
    tokens = value.split(" ")
    # Very long words and text that looks like an encoded-word go out encoded too.
    if value.isascii() and "=?" not in value and max(map(len, tokens)) < 900:
        return _fold(name, tokens)
    return _fold(name, _encoded_words(value))


def address_header_line(name: str, display_name: str | None, address: str) -> str:
    """`From`/`To`/`Reply-To` with an optional display name quoted or encoded as needed."""
    address = clean_header_text(address).replace(" ", "")
    display = clean_header_text(display_name or "")
    if not display:
        return f"{name}: {address}"
    if not display.isascii():
        return _fold(name, [*_encoded_words(display), f"<{address}>"])
    if _ATOM_SAFE.match(display):
        return _fold(name, [*display.split(" "), f"<{address}>"])
    quoted = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _fold(name, [quoted, f"<{address}>"])


@lru_cache(maxsize=4)
def _second(now: int) -> tuple[str, str]:
    """(Message-ID stamp, Date value) of a second since the epoch."""
    moment = datetime.fromtimestamp(now, UTC)
    return moment.strftime("%Y%m%d%H%M%S"), format_datetime(moment)


def make_message_id(domain: str, prefix: str = "digest") -> str:
    """A globally unique `<…@domain>` Message-ID on the sender's domain."""
    stamp = _second(int(time.time()))[0]
    return f"<{prefix}.{stamp}.{os.urandom(8).hex()}@{domain}>"


@lru_cache(maxsize=16)
def _format_moment(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment)


def format_date(moment: datetime | None) -> str:
    """An RFC 5322 Date value; naive datetimes are taken as UTC."""
    if moment is None:
        return _second(int(time.time()))[1]
    return _format_moment(moment)


def _fold_long_lines(data: bytes) -> bytes | None:
    """Lines over 998 octets broken at a space (whitespace either way in HTML), or None."""
    lines = []
    for line in data.split(b"\r\n"):
        while len(line) > MAX_BODY_LINE:
            cut = line.rfind(b" ", 0, MAX_BODY_LINE)
            if cut <= 0:
                return None
            lines.append(line[:cut])
            line = line[cut + 1 :]
        lines.append(line)
    return b"\r\n".join(lines)


def quoted_printable(text: str) -> str:
    """`text`, whole lines ending in CRLF, in quoted-printable (UTF-8).

    Short ASCII lines with nothing to escape are their own encoding; the rest goes through
    the stdlib's C encoder.
    """
    plain = text.isascii() and "=" not in text and " \r\n" not in text and "\t" not in text
    if plain and (len(text) <= MAX_QP_LINE + 2 or max(map(len, text.split("\r\n"))) <= MAX_QP_LINE):
        return text
    encoded = binascii.b2a_qp(text.encode("utf-8")).decode("ascii")
    lines = encoded.split("\r\n")
    if max(map(len, lines)) <= MAX_QP_LINE:
        return encoded
    # The C encoder lets a long line that ends in an encoded space reach 77 characters.
    return "\r\n".join(map(_soft_breaks, lines))


def _soft_breaks(line: str) -> str:
    """An encoded line cut into lines of at most 76 with soft breaks, between escapes."""
    pieces = []
    while len(line) > MAX_QP_LINE:
        cut = MAX_QP_LINE - 1
        cut -= 1 if line[cut - 1] == "=" else 2 if line[cut - 2] == "=" else 0
        pieces.append(line[:cut] + "=")
        line = line[cut:]
    return "\r\n".join([*pieces, line])


def _base64_lines(data: bytes) -> bytes:
    encoded = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)])


def body_part(
    content: str, *, html: bool, crlf: bool = False, lines_fit: bool = False
) -> tuple[bytes, bytes]:
    """(transfer encoding, body octets) for one text part.

    HTML goes out as 7-bit ASCII, characters outside ASCII written as numeric references
    (`&#233;`), which every HTML reader decodes: no encoding step, readable source. Plain
    text that is pure ASCII goes out as 7-bit too; other text, and anything with a line
    that cannot be kept under 998 octets, goes out as base64 of UTF-8.

    `crlf`: the content's lines already end in CRLF, the last one too; `lines_fit`: none
    is longer than 998 characters. HTML written by pieces is both, and needs no pass.
    """
    if crlf and lines_fit and content.isascii():
        return b"7bit", content.encode("ascii")
    if "\r" in content:
        content = content.replace("\r\n", "\n").replace("\r", "\n")
    content = content.rstrip("\n").replace("\n", "\r\n") + "\r\n"
    if content.isascii():
        data = content.encode("ascii")
    elif html:
        data = content.encode("ascii", "xmlcharrefreplace")
    else:
        data = content.encode("utf-8")
    if data.isascii() and b"\x00" not in data:
        if max(map(len, data.split(b"\r\n"))) <= MAX_BODY_LINE:
            return b"7bit", data
        if html and (folded := _fold_long_lines(data)) is not None:
            return b"7bit", folded
    return b"base64", _base64_lines(content.encode("utf-8")) + b"\r\n"


def assemble_alternative(
    header_lines: Iterable[str], text: tuple[bytes, bytes], html: tuple[bytes, bytes]
) -> bytes:
    """The whole message: headers, then `multipart/alternative` with text first, HTML last.

    `text` and `html` are the parts as `body_part` returns them.
    """
    boundary = b"=_" + os.urandom(12).hex().encode("ascii")
    text_encoding, text_body = text
    html_encoding, html_body = html
    head = "\r\n".join(header_lines)
    return b"".join(
        (
            head.encode("utf-8"),
            b'\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="',
            boundary,
            b'"\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n--',
            boundary,
            b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: ",
            text_encoding,
            b"\r\n\r\n",
            text_body,
            b"\r\n--",
            boundary,
            b"\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: ",
            html_encoding,
            b"\r\n\r\n",
            html_body,
            b"\r\n--",
            boundary,
            b"--\r\n",
        )
    )
