"""Every kind of email, rendered from fixed inputs, reads as its approved copy in golden/.

Each golden file holds what a mail client shows of one message: its headers decoded (in
name order), then its plain-text and HTML parts decoded. Left out are the details of the
wire, which the other tests check: header order and folding, the boundary, the transfer
encodings. Tokens, the Message-ID's stamp and random part are masked; the Date is fixed by
the inputs.

After an intended change to what an email says, rewrite the copies and review the diff:

    uv run python tests/render/test_golden.py
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

if __name__ == "__main__":  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from digest.records import Digest, LikedUpdate, OutgoingEmail, Paper
from digest.render import Renderer
from tests.render.conftest import make_digest, make_paper, make_settings, make_subscriber, parse
from tests.render.test_size import bulky_paper

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 5, 14, 5, 30, tzinfo=UTC)
PART = "\n#### part: {} ####\n"
# itsdangerous tokens: payload, timestamp, signature (27 characters of URL-safe base64).
_TOKEN = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]{4,8}\.[A-Za-z0-9_\-]{27}(?![A-Za-z0-9_\-])")
_MESSAGE_ID = re.compile(r"<(\w+)\.\d{14}\.[0-9a-f]{16}@")


def rich_paper(number: int) -> Paper:
    """Papers with every kind of detail a digest shows, varied by number."""
    fields: dict[str, Any] = {}
    if number % 5 == 0:
        fields |= {"code_url": f"https://github.com/lab{number}/code", "stars": 1234 + number}
    if number % 4 == 1:
        fields |= {"hf_url": f"https://huggingface.co/papers/2605.{10000 + number}"}
        fields |= {"upvotes": 40 + number}
    if number % 7 == 2:
        fields["ai_summary"] = "A one-line summary of the paper, written by a model."
    if number == 3:
        fields |= {"title": "Schrödinger bridges for 分子 generation — a naïve view", "authors": ()}
    if number == 4:
        fields["title"] = r"An $O(n^2)$ bound for $\alpha$-divergences & <friends>"
    if number == 6:
        fields |= {"id": "10.1000/xyz-6", "project_url": "https://lab.example.org/project"}
    if number == 8:
        fields["authors"] = tuple(f"Author {n}" for n in range(12))
    return make_paper(number, **fields)


def _updates() -> tuple[LikedUpdate, ...]:
    return (
        LikedUpdate(rich_paper(40), code_url="https://github.com/lab40/released", upvotes=118),
        LikedUpdate(rich_paper(41), version=3),
        LikedUpdate(make_paper(42, title="Ein Aufsatz über Graphen"), upvotes=25),
        LikedUpdate(rich_paper(43), code_url="javascript:alert(1)"),  # nothing to show: left out
    )


HOSTILE_TOPICS = ("evil\r\nBcc: victim@example.com", "обучение с подкреплением", "🤖 robots")


def _hostile_paper(number: int) -> Paper:
    return make_paper(
        number,
        title=f'<script>alert("x")</script> نموذج لغوي {"Pneumono" * 150} {number}',
        abstract="<img src=x onerror=alert(1)> Fine. שלום עולם 🙂. Third.",
        abs_url="javascript:alert(1)",
        code_url="data:text/html,<script>x</script>",
        hf_url='https://huggingface.co/papers/1" onmouseover="x',
    )


def _digest(renderer: Renderer, digest: Digest) -> OutgoingEmail:
    return renderer.render_digest(digest, now=NOW)


# name: (mail settings, how to render)
CASES: dict[str, tuple[dict[str, Any], Callable[[Renderer], OutgoingEmail]]] = {
    "digest-many": (
        {},
        lambda r: _digest(r, make_digest(30, paper=rich_paper, trending=(rich_paper(31),))),
    ),
    "digest-one-topic": (
        {},
        lambda r: _digest(r, make_digest(3, paper=rich_paper, topics=("graph neural networks",))),
    ),
    "digest-weekly": (
        {},
        lambda r: _digest(r, replace(make_digest(9, paper=rich_paper), since=date(2026, 5, 7))),
    ),
    "digest-updates": (
        {},
        lambda r: _digest(
            r,
            replace(
                make_digest(4, paper=rich_paper), updates=_updates(), trending=(rich_paper(50),)
            ),
        ),
    ),
    "digest-quiet-day": ({}, lambda r: _digest(r, make_digest(0))),
    "digest-compact": ({}, lambda r: _digest(r, make_digest(100, paper=bulky_paper))),
    "digest-hostile": (
        {
            "from_name": 'Lab "Digest" — Résumé\r\nBcc: x@example.com',
            "reply_to": "team@example.org",
            "list_id": "papers.example.org",
            "footer_text": "Lab\x1a\x00 Street\r\n12345\x07 Town",
        },
        lambda r: _digest(
            r,
            make_digest(
                3,
                paper=_hostile_paper,
                topics=HOSTILE_TOPICS,
                subscriber=make_subscriber(topics=HOSTILE_TOPICS),
            ),
        ),
    ),
    "confirm": ({}, lambda r: r.render_confirmation(make_subscriber(status="pending"), now=NOW)),
    "welcome": (
        {},
        lambda r: r.render_welcome(
            make_subscriber(authors=("Yoshua Bengio",), categories=("cs.LG",)), now=NOW
        ),
    ),
    "welcome-weekly": (
        {},
        lambda r: r.render_welcome(make_subscriber(frequency="weekly", weekday=4), now=NOW),
    ),
    "welcome-feed-only": (
        {},
        lambda r: r.render_welcome(make_subscriber(feed_only=True), now=NOW),
    ),
    "goodbye": ({}, lambda r: r.render_goodbye(make_subscriber(status="unsubscribed"), now=NOW)),
}


def mask(text: str) -> str:
    return _MESSAGE_ID.sub(r"<\1.STAMP.RANDOM@", _TOKEN.sub("TOKEN", text))


def readable(data: bytes) -> str:
    """What a mail client shows of a message: headers decoded, then each part decoded."""
    message = parse(data)
    assert message.get_content_type() == "multipart/alternative"
    # A value may start on the next line (folded after the colon): that space is not shown.
    lines = [f"{name}: {str(value).strip()}" for name, value in message.items()]
    lines = [line for line in lines if not line.startswith("Content-Type:")]
    out = "\n".join(sorted(lines)) + "\n"
    for part in message.iter_parts():
        body = str(part.get_content()).replace("\r\n", "\n")
        out += PART.format(f"{part.get_content_type()}; charset={part.get_content_charset()}")
        out += body
    return mask(out)


def render_case(name: str, directory: Path) -> bytes:
    mail, render = CASES[name]
    return render(Renderer(make_settings(directory, **mail))).data


@pytest.mark.parametrize("name", sorted(CASES))
def test_email_reads_as_its_golden_copy(name: str, tmp_path: Path) -> None:
    expected = (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    assert readable(render_case(name, tmp_path)) == expected


def write_golden() -> None:
    GOLDEN.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(CASES):
            text = readable(render_case(name, Path(tmp)))
            (GOLDEN / f"{name}.txt").write_text(text, encoding="utf-8")
            print(f"wrote {GOLDEN / name}.txt")


if __name__ == "__main__":
    write_golden()
