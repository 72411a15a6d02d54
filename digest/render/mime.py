"""MIME assembly: every email is one `multipart/alternative` message, plain text then HTML,
CRLF line ends, written directly from its parts (two text parts and a dozen headers need
none of the stdlib's message tree), with the stdlib doing the encoding: `email.header`
folds and encodes headers, `binascii` the parts that need it.

Headers: a value in ASCII that fits a 76-column line goes as it is; any other goes through
`email.header.Header`, which folds ASCII at spaces and commas and encodes a non-ASCII value
whole, in encoded-words of at most 75 characters (RFC 2047). A value that would not read
as written (text that looks like an encoded-word, a word too long for a mail line) is
encoded whole. A display name in `From` comes encoded by `formataddr`, as one word however
long. (The stdlib's `EmailMessage` under `email.policy.SMTP` would turn the long URLs of
`List-Unsubscribe` into encoded-words, so it no longer names a link, and encode a
non-ASCII phrase word by word, which mail clients join without the spaces between them,
RFC 2047 §6.2.) A value must be on one line (`one_line`); one holding a line break, which
would start another header, is refused (`HeaderParseError`).

Parts: one in ASCII whose lines fit a mail line goes out as 7-bit, as it stands (the HTML
is written in ASCII for this: `ascii_html`); any other as quoted-printable or base64 of
UTF-8, whichever is shorter, in 76-column lines, as the stdlib's `set_content` chooses: text
that is mostly ASCII (an author's accent, a "·") stays readable and a third smaller than in
base64, which spam filters also count against a text part. Nothing goes out as 8-bit, which
a relay without 8BITMIME would refuse. The boundary is 96 random bits, so no part can
contain it and nothing has to look.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import Header

CRLF = "\r\n"
MAX_LINE = 998  # octets in a mail line, CRLF aside (RFC 5322)
HEADER_LINE = 76  # folding width: an encoded-word on a line of its own stays within 75
_LONGEST_WORD = 900  # a header word longer than this, with its name, could pass MAX_LINE
_ADDRESS_HEADERS = frozenset({"From", "To", "Reply-To"})  # as `formataddr` writes them


def make_message_id(domain: str, kind: str) -> str:
    """A globally unique `<kind.stamp.random@domain>` Message-ID on the sender's domain."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return f"<{kind}.{stamp}.{secrets.token_hex(8)}@{domain}>"


def as_utc(moment: datetime | None) -> datetime:
    """`moment` (naive taken as UTC), or now."""
    if moment is None:
        return datetime.now(UTC).replace(microsecond=0)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def build_message(headers: Iterable[tuple[str, str]], text: str, html: str) -> bytes:
    """The message bytes: `headers` (values on one line), then the text and HTML parts."""
    boundary = f"={secrets.token_hex(12)}"
    lines = [
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "MIME-Version: 1.0",
        *(_header(name, value) for name, value in headers),
    ]
    return CRLF.join(
        [
            *lines,
            "",
            f"--{boundary}",
            _part(text, "plain"),
            f"--{boundary}",
            _part(html, "html"),
            f"--{boundary}--",
            "",
        ]
    ).encode("ascii")


def _header(name: str, value: str) -> str:
    """One header, folded: as it stands when it fits; encoded whole (RFC 2047) when as it
    stands it would not read as written (text that looks like an encoded-word, a word too
    long to fold into a mail line); else folded by `email.header`."""
    if "\r" in value or "\n" in value:
        raise HeaderParseError(f"the {name} header would hold a line break")
    if name not in _ADDRESS_HEADERS and (
        "=?" in value or max(map(len, value.split()), default=0) > _LONGEST_WORD
    ):
        header = Header(value, "utf-8", maxlinelen=HEADER_LINE, header_name=name)
    elif value.isascii() and len(name) + 2 + len(value) <= HEADER_LINE:
        return f"{name}: {value}"
    else:
        header = Header(value, maxlinelen=HEADER_LINE, header_name=name)
    return f"{name}: {header.encode(linesep=CRLF)}"


def _part(body: str, subtype: str) -> str:
    """A `text/…; charset="utf-8"` body part (its headers, a blank line, the body), its
    lines ending in CRLF: 7-bit when it can go as it is, else quoted-printable or base64,
    whichever is shorter."""
    body = body.rstrip("\n")
    if body.isascii():
        lines = body.split("\n")
        if max(map(len, lines)) <= MAX_LINE:
            return _with_headers(subtype, "7bit", CRLF.join(lines) + CRLF)
    raw = (body.replace("\n", CRLF) + CRLF).encode("utf-8")
    quoted = binascii.b2a_qp(raw)  # keeps the CRLF line ends; soft breaks at 76 columns
    in_base64 = 4 * -(-len(raw) // 3)  # its length before line breaks, known without encoding
    if len(quoted) <= in_base64 * 78 // 76:  # base64 gains a CRLF every 76 characters
        return _with_headers(subtype, "quoted-printable", quoted.decode("ascii"))
    encoded = binascii.b2a_base64(raw, newline=False)
    lines = [encoded[i : i + 76].decode("ascii") for i in range(0, len(encoded), 76)]
    return _with_headers(subtype, "base64", CRLF.join(lines) + CRLF)


def _with_headers(subtype: str, encoding: str, body: str) -> str:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}{body}"
    )
