"""Reading XML feeds item by item, keeping every complete item before any breakage.

A truncated, oversized or half-broken feed still yields the entries that arrived whole; the
parse error is reported next to them. The standard library's expat parser never fetches
external entities and refuses entity-expansion bombs.
"""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from typing import cast

from digest.records import FeedEntry

_CHUNK = 1 << 16
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_HTML_START = re.compile(r"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)


@dataclass
class Parsed:
    """What a source's response yielded: entries, how many were unusable, and any error."""

    entries: list[FeedEntry] = field(default_factory=list)
    skipped: int = 0
    error: str | None = None
    total: int | None = None


@dataclass
class XmlItems:
    root: str | None = None
    items: list[ET.Element] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def local_name(tag: str) -> str:
    """`{namespace}Name` → `name` (lower case, so `arxiv:DOI` and `arxiv:doi` agree)."""
    return tag.rpartition("}")[2].lower()


def children_by_name(element: ET.Element) -> dict[str, list[ET.Element]]:
    found: dict[str, list[ET.Element]] = defaultdict(list)
    for child in element:
        if isinstance(child.tag, str):
            found[local_name(child.tag)].append(child)
    return found


def child_text(found: dict[str, list[ET.Element]], name: str) -> str | None:
    """The text of the first child called `name`, stripped; None if absent or empty."""
    for child in found.get(name, ()):
        text = "".join(child.itertext()).strip()
        if text:
            return text
    return None


def looks_like_html(text: str) -> bool:
    return bool(_HTML_START.match(text[:2000]))


def read_items(
    text: str, item_names: set[str], meta_names: frozenset[str] | set[str] = frozenset()
) -> XmlItems:
    """The complete `item_names` elements of a feed (by local name), plus feed-level metadata.

    Stops at the first syntax error and reports it with its line, keeping what came before.
    """
    result = XmlItems()
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    body = _XML_DECLARATION.sub("", text, count=1)
    try:
        for start in range(0, len(body), _CHUNK):
            parser.feed(body[start : start + _CHUNK])
            _collect(parser, result, item_names, meta_names)
        parser.close()
        _collect(parser, result, item_names, meta_names)
    except ET.ParseError as exc:
        _collect_safely(parser, result, item_names, meta_names)
        line = exc.position[0] if exc.position else "?"
        result.error = f"malformed XML at line {line} ({_reason(exc)})"
    return result


def _collect(
    parser: ET.XMLPullParser[ET.Element],
    result: XmlItems,
    item_names: set[str],
    meta_names: frozenset[str] | set[str],
) -> None:
    for event_and_element in parser.read_events():
        event, element = cast("tuple[str, ET.Element]", event_and_element)
        name = local_name(element.tag)
        if event == "start":
            result.root = result.root or name
        elif name in item_names:
            result.items.append(element)
        elif name in meta_names and name not in result.meta:
            result.meta[name] = (element.text or "").strip()


def _collect_safely(
    parser: ET.XMLPullParser[ET.Element],
    result: XmlItems,
    item_names: set[str],
    meta_names: frozenset[str] | set[str],
) -> None:
    with contextlib.suppress(ET.ParseError):
        _collect(parser, result, item_names, meta_names)


def _reason(exc: ET.ParseError) -> str:
    return str(exc).split(":", 1)[0]
