"""Turning what feeds send into clean plain text: decoding bodies, stripping markup.

Titles and abstracts are stored as plain text and escaped when rendered. Feeds that carry
HTML (journals, blogs) are converted to text; arXiv and Hugging Face send plain text that may
legitimately contain `<` (`$a<b$`), so only real HTML tags are removed from those.
"""

from __future__ import annotations

import codecs
import html
import re
import unicodedata
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

_SKIPPED_ELEMENTS = {"script", "style", "noscript", "iframe", "object", "template", "head"}
_BLOCK_ELEMENTS = {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section"}
_KNOWN_TAGS = (
    "a|abbr|b|blockquote|body|br|code|div|em|embed|font|form|h[1-6]|head|hr|html|i|iframe|img|"
    "input|li|link|meta|noscript|object|ol|p|pre|q|s|script|section|small|span|strong|style|"
    "sub|sup|svg|table|tbody|td|template|th|tr|tt|u|ul|math|mi|mo|mn|mrow|msub|msup|mfrac"
)
_SCRIPT_BLOCK = re.compile(
    r"<(script|style|noscript|iframe|template)\b[^>]*>.*?(</\1\s*>|$)", re.I | re.S
)
_HTML_TAG = re.compile(rf"</?(?:{_KNOWN_TAGS})\b[^<>]*>|<!--.*?-->", re.I | re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_ELEMENTS:
            self._skipping += 1
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_ELEMENTS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def squash(text: str) -> str:
    """One line: control characters dropped, runs of whitespace made one space."""
    return " ".join(_CONTROL.sub("", text).split())


def html_to_text(markup: str | None) -> str:
    """Plain text of an HTML fragment; scripts, styles and tags removed, entities decoded."""
    if not markup:
        return ""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return squash("".join(parser.parts))


def plain_text(text: str | None) -> str:
    """Plain text from a field that should already be text: stray HTML tags removed.

    Unlike `html_to_text`, a lone `<` stays (`for n<k`), as arXiv abstracts need.
    """
    if not text:
        return ""
    text = _SCRIPT_BLOCK.sub(" ", text)
    text = _HTML_TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return squash(text)


def declared_charset(body: bytes, content_type: str | None) -> str | None:
    """The charset named by the Content-Type header or the XML declaration, if known."""
    if content_type:
        match = re.search(r"charset=[\"']?([A-Za-z0-9._-]+)", content_type, re.I)
        if match and _known_codec(match[1]):
            return match[1]
    declaration = _XML_ENCODING.match(body[:200])
    if declaration:
        name = declaration[1].decode("ascii")
        return name if _known_codec(name) else None
    return None


def decode_body(body: bytes, content_type: str | None = None) -> tuple[str, bool]:
    """(text, clean): the body decoded by its declared charset, else UTF-8, else Windows-1252.

    `clean` is false when the declared charset was wrong and a fallback was needed.
    """
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", errors="replace"), True
    declared = declared_charset(body, content_type)
    for index, charset in enumerate(dict.fromkeys([declared or "utf-8", "utf-8"])):
        try:
            return body.decode(charset), index == 0
        except UnicodeDecodeError:
            continue
    return body.decode("cp1252", errors="replace"), False


def _known_codec(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


_TEX_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303",
    "=": "\u0304", ".": "\u0307", "c": "\u0327", "v": "\u030c", "u": "\u0306",
    "H": "\u030b", "k": "\u0328",
}  # fmt: skip
_TEX_ACCENT = re.compile(r"""\{?\\(['`^"~=.])\{?([A-Za-z])\}?\}?|\{?\\([cvuHk])\{([A-Za-z])\}\}?""")


def detex_accents(text: str) -> str:
    """`Andr\\'e` → `André`: the TeX accents arXiv author lists use, as Unicode."""
    if "\\" not in text:
        return text

    def accent(match: re.Match[str]) -> str:
        mark = match[1] or match[3]
        letter = match[2] or match[4]
        return unicodedata.normalize("NFC", letter + _TEX_ACCENTS[mark])

    return _TEX_ACCENT.sub(accent, text)


def split_authors(text: str | None) -> tuple[str, ...]:
    """`A, B and C` → (`A`, `B`, `C`), accents decoded, blanks dropped."""
    if not text:
        return ()
    text = re.sub(r",?\s+and\s+", ", ", plain_text(detex_accents(text)))
    return tuple(name.strip() for name in text.split(",") if name.strip())


def parse_timestamp(text: str | None) -> datetime | None:
    """An ISO 8601 or RFC 822 timestamp as an aware datetime (UTC if no zone); None if bad."""
    if not text:
        return None
    text = text.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
