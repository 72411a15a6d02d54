"""MIME assembly: every email is one `multipart/alternative` message, plain text then HTML,
built with the stdlib's `email.mime` classes under the `compat32` policy, CRLF line ends.

Why not `EmailMessage` under `email.policy.SMTP`: in Python 3.11 its header folder turns a
URL longer than a line into encoded-words, so `List-Unsubscribe` no longer names a link,
and it encodes a non-ASCII phrase word by word, so a mail client, which joins adjacent
encoded-words without the space between them (RFC 2047 §6.2), shows "обучение с
подкреплением" as "обучениесподкреплением"; it is also about three times slower. The
`compat32` folder (`email.header`) folds ASCII at spaces and commas (a value too long for
the first line starts on the next) and encodes a non-ASCII value whole, in encoded-words
that fit a line; lines stay within 76 columns where they can. A display name in `From`
is encoded by `formataddr`, as one word however long.

A part in ASCII whose lines fit a mail line goes out as 7-bit, as it stands (the HTML is
written in ASCII for this: `ascii_html`); any other as base64 of UTF-8. Nothing goes out
as 8-bit, which a relay without 8BITMIME would refuse. Header values must be on one line
(`one_line`); one that would start another header is refused (`HeaderParseError`).
"""

from __future__ import annotations

import email.policy
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

# Headers folded at 76 columns: an encoded-word on a line of its own then stays within the
# 75 characters RFC 2047 allows it.
POLICY = email.policy.compat32.clone(linesep="\r\n", max_line_length=76)
MAX_LINE = 998  # octets in a mail line, CRLF aside (RFC 5322)
_LONGEST_WORD = 900  # a header word longer than this, with its name, could pass MAX_LINE
_ADDRESS_HEADERS = frozenset({"From", "To", "Reply-To"})


def make_message_id(domain: str, kind: str) -> str:
    """A globally unique `<kind.stamp.random@domain>` Message-ID on the sender's domain."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return f"<{kind}.{stamp}.{secrets.token_hex(8)}@{domain}>"


def as_utc(moment: datetime | None) -> datetime:
    """`moment` (naive taken as UTC), or now."""
    if moment is None:
        return datetime.now(UTC).replace(microsecond=0)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _part(body: str, subtype: str) -> MIMEText:
    """A `text/…; charset=utf-8` part, its lines ending in CRLF (the canonical form of
    text): 7-bit when it can go as it is, else base64."""
    body = body.rstrip("\n").replace("\n", "\r\n") + "\r\n"
    if body.isascii() and max(map(len, body.split("\r\n"))) <= MAX_LINE:
        part = MIMEText(body, subtype, "us-ascii", policy=POLICY)
        part.set_param("charset", "utf-8")  # ASCII is UTF-8: every part says utf-8
    else:
        part = MIMEText(body, subtype, "utf-8", policy=POLICY)
    del part["MIME-Version"]  # said once, by the message
    return part


def _unstructured(name: str, value: str) -> str:
    """`value`, encoded whole (RFC 2047) when as it stands it would not read as written:
    text that looks like an encoded-word, or a word too long to fold into a mail line."""
    if "=?" in value or max(map(len, value.split()), default=0) > _LONGEST_WORD:
        return Header(value, "utf-8", header_name=name).encode(maxlinelen=POLICY.max_line_length)
    return value


def build_message(headers: Iterable[tuple[str, str]], text: str, html: str) -> bytes:
    """The message bytes: `headers` (values on one line; address headers as `formataddr`
    writes them), then the text and HTML parts.

    The boundary is 96 random bits, so no part can contain it and nothing has to look.
    """
    message = MIMEMultipart("alternative", f"={secrets.token_hex(12)}", policy=POLICY)
    for name, value in headers:
        message[name] = value if name in _ADDRESS_HEADERS else _unstructured(name, value)
    message.attach(_part(text, "plain"))
    message.attach(_part(html, "html"))
    return message.as_bytes()
