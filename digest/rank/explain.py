"""Why a paper was picked, in one short sentence.

"matches 'gaussian splatting' in the title; 41 upvotes", "by Jane Doe, whom you follow",
"similar to 'Attention Is All You Need', which you liked", "close to 'Attention Is All
You Need', from your library". Built only for the papers that
go into a digest, from what the index already knows, so it costs a few set look-ups.
"""

from __future__ import annotations

import functools

from digest.rank.index import PaperIndex
from digest.rank.queries import QueryRow


def explain_match(index: PaperIndex, row: QueryRow, paper: int) -> str:
    """The relevance half of a reason: what of the topic the paper says, and where.

    "matches 'gaussian splatting' in the title" only when every word of the topic is in
    the paper and so is each pair of neighbouring words (in either order); otherwise the
    words that are there, as the subscriber wrote them ("partly matches 'large language
    model agents': 'large language model' in the title"). A paper picked for being close
    to the topic's best papers of the day, with none of its words, says so.
    """
    if row.kind == "liked":
        return f"similar to '{_shorten(row.label)}', which you liked"
    if row.kind == "library":
        return f"close to '{_shorten(row.label)}', from your library"
    in_paper = index.paper_terms[paper]
    label = _shorten(row.label)
    pieces = _matched_pieces(row, in_paper)
    if not pieces:
        return f"close to today's papers on '{label}'"
    where = _where(index.title_terms[paper], [c for piece in pieces for c, _ in piece])
    if len(pieces) == 1 and len(pieces[0]) == len(row.words):
        return f"matches '{label}' {where}"
    return f"partly matches '{label}': {_quoted(pieces)} {where}"


def _matched_pieces(row: QueryRow, in_paper: frozenset[int]) -> list[list[tuple[int, str]]]:
    """The topic's words found in the paper, consecutive ones grouped when the paper
    also has them as a pair."""
    pieces: list[list[tuple[int, str]]] = []
    joined = False
    for i, (column, word) in enumerate(row.words):
        if column not in in_paper:
            joined = False
            continue
        link = row.links[i] if i < len(row.links) else -1
        if joined and link >= 0 and link in in_paper:
            pieces[-1].append((column, word))
        else:
            pieces.append([(column, word)])
        joined = True
    return pieces


def _where(in_title: frozenset[int], columns: list[int]) -> str:
    if in_title.issuperset(columns):
        return "in the title"
    if not in_title.isdisjoint(columns):
        return "in the title and abstract"
    return "in the abstract"


def _quoted(pieces: list[list[tuple[int, str]]]) -> str:
    return ", ".join(f"'{_shorten(' '.join(w for _, w in piece), 40)}'" for piece in pieces)


def explain_signals(index: PaperIndex, paper: int, categories: tuple[str, ...]) -> list[str]:
    """The trending half: upvotes, code stars, a followed category."""
    record = index.papers[paper]
    signals = []
    if record.upvotes:
        signals.append(_count(record.upvotes, "upvote"))
    if record.stars:
        signals.append(_count(record.stars, "star") + " on its code")
    if categories:
        wanted = _lowered(categories)
        shared = [c for c in record.categories if c.lower() in wanted]
        if shared:
            signals.append(f"in {shared[0]}")
    return signals


@functools.lru_cache(maxsize=4096)
def _lowered(categories: tuple[str, ...]) -> frozenset[str]:
    return frozenset(c.lower() for c in categories)


def explain_author(name: str) -> str:
    return f"by {name}, whom you follow"


def join_reason(parts: list[str]) -> str:
    """Parts joined as one short sentence."""
    return "; ".join(p for p in parts if p)


def _count(n: int, noun: str) -> str:
    shown = f"{n / 1000:.1f}k" if n >= 1000 else str(n)
    return f"{shown} {noun}{'' if n == 1 else 's'}"


def _shorten(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
