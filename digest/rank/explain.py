"""Why a paper was picked, in one short sentence.

"matches 'gaussian splatting' in the title; 41 upvotes", "by Jane Doe, whom you follow",
"similar to 'Attention Is All You Need', which you liked". Built only for the papers that
go into a digest, from what the index already knows, so it costs a few set look-ups.
"""

from __future__ import annotations

from digest.rank.index import PaperIndex
from digest.rank.queries import QueryRow


def explain_match(index: PaperIndex, row: QueryRow, paper: int) -> str:
    """The relevance half of a reason: which topic matched, and where in the paper."""
    if row.kind == "liked":
        return f"similar to '{_shorten(row.label)}', which you liked"
    in_title = index.title_terms[paper]
    in_paper = index.paper_terms[paper]
    matched = [(column, word) for column, word in row.words if column in in_paper]
    label = _shorten(row.label)
    if not matched:
        return f"related to '{label}'"
    columns = [column for column, _ in matched]
    if all(c in in_title for c in columns):
        where = "in the title"
    elif any(c in in_title for c in columns):
        where = "in the title and abstract"
    else:
        where = "in the abstract"
    phrase_found = not row.pairs or any(c in in_paper for c in row.pairs)
    if len(matched) == len(row.words) and phrase_found:
        return f"matches '{label}' {where}"
    words = ", ".join(f"'{word}'" for _, word in matched)
    return f"matches {words} from '{label}' {where}"


def explain_signals(index: PaperIndex, paper: int, categories: tuple[str, ...]) -> list[str]:
    """The trending half: upvotes, code stars, a followed category."""
    record = index.papers[paper]
    signals = []
    if record.upvotes:
        signals.append(_count(record.upvotes, "upvote"))
    if record.stars:
        signals.append(_count(record.stars, "star") + " on its code")
    wanted = {c.lower() for c in categories}
    shared = [c for c in record.categories if c.lower() in wanted]
    if shared:
        signals.append(f"in {shared[0]}")
    return signals


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
