"""Why a paper was picked, in words that claim only what is there.

- "matches 'X' in the title" only when every content word of X (after stemming and the
  day's acronyms) is in the title; "in the abstract", "in the title and abstract" likewise.
- A pick that not every word of X supports was carried by meaning: "close in meaning to
  'X'", followed by the words that did match, quoted as the paper writes them:
  "close in meaning to 'LLM agents'; 'agents' in the title".
- Liked papers: "close to 'Title', a paper you liked" (or "…, from your library");
  followed authors: "by Name, whom
  you follow"; then facts such as "41 upvotes" and "in cs.GT".
"""

from __future__ import annotations

import re
import unicodedata

from digest.rank.index import PaperIndex
from digest.rank.text import STOPWORDS
from digest.rank.topics import Topic
from digest.records import Paper

_WORD = re.compile(r"[^\W_]+")


def explain_topic(index: PaperIndex, topic: Topic, paper: int) -> str:
    """The reason a paper was picked for `topic`."""
    in_title = _stems_of(index, paper, title=True)
    anywhere = _stems_of(index, paper, title=False)
    stems = set(topic.stems)
    name = _shorten(topic.text, 60)
    if stems and stems <= anywhere:
        if stems <= in_title:
            return f"matches '{name}' in the title"
        where = "in the title and abstract" if stems & in_title else "in the abstract"
        return f"matches '{name}' {where}"
    reason = f"close in meaning to '{name}'"
    record = index.papers[paper]
    found_title = _surface(index, record.title, [s for s in topic.stems if s in in_title])
    if found_title:
        return f"{reason}; {_quoted(found_title)} in the title"
    found = _surface(index, record.abstract, [s for s in topic.stems if s in anywhere])
    if found:
        return f"{reason}; {_quoted(found)} in the abstract"
    return reason


def explain_words_only(index: PaperIndex, topic: Topic, paper: int) -> str:
    """The reason when no sentence vector was at hand: words alone picked it."""
    reason = explain_topic(index, topic, paper)
    if not reason.startswith("close in meaning"):
        return reason
    words = reason.partition("; ")[2]
    return f"partly matches '{_shorten(topic.text, 60)}': {words}" if words else ""


def explain_liked(title: str, *, from_library: bool = False) -> str:
    where = "from your library" if from_library else "a paper you liked"
    return f"close to '{_shorten(title, 70)}', {where}"


def explain_author(name: str) -> str:
    return f"by {name}, whom you follow"


def explain_signals(paper: Paper, categories: tuple[str, ...]) -> list[str]:
    """Facts worth knowing: upvotes, code stars, a followed category."""
    signals = []
    if paper.upvotes:
        signals.append(_count(paper.upvotes, "upvote"))
    if paper.stars:
        signals.append(_count(paper.stars, "star") + " on its code")
    if categories:
        wanted = {c.lower() for c in categories}
        shared = [c for c in paper.categories if c.lower() in wanted]
        if shared:
            signals.append(f"in {shared[0]}")
    return signals


def join_reason(parts: list[str]) -> str:
    """Parts joined as one short sentence."""
    return "; ".join(p for p in parts if p)


def _stems_of(index: PaperIndex, paper: int, *, title: bool) -> frozenset[str]:
    """The stems a paper has in its title (or anywhere), worked out once per index."""
    key = f"stems:{'title' if title else 'anywhere'}:{paper}"
    cached = index.cache.get(key)
    if isinstance(cached, frozenset):
        return cached
    matrix = index.in_title if title else index.anywhere
    columns = matrix.indices[matrix.indptr[paper] : matrix.indptr[paper + 1]]
    names = _names(index)
    stems = frozenset(names[c] for c in columns)
    index.cache[key] = stems
    return stems


def _names(index: PaperIndex) -> list[str]:
    cached = index.cache.get("names")
    if isinstance(cached, list):
        return cached
    names = [""] * len(index.vocabulary)
    for stem, column in index.vocabulary.items():
        names[column] = stem
    index.cache["names"] = names
    return names


def _surface(index: PaperIndex, text: str, stems: list[str]) -> list[str]:
    """How `text` writes each of `stems` (an acronym's long form counts), in stem order."""
    words = _WORD.findall(unicodedata.normalize("NFKC", text))
    stemmed = [index.analyzer.stem(w) for w in words]
    found: list[str] = []
    for stem in stems:
        if stem in stemmed:
            found.append(words[stemmed.index(stem)])
            continue
        span = _long_form_span(index, stem, words, stemmed)
        if span:
            found.append(span)
    return list(dict.fromkeys(found))


def _long_form_span(index: PaperIndex, acronym: str, words: list[str], stemmed: list[str]) -> str:
    """The words of `text` that spell the long form of `acronym`, stop words included."""
    content = [i for i, w in enumerate(words) if w.lower() not in STOPWORDS]
    for forms in index.acronyms.values():
        for long_form, short in forms:
            if short != acronym:
                continue
            size = len(long_form)
            for start in range(len(content) - size + 1):
                span = content[start : start + size]
                if tuple(stemmed[i] for i in span) == long_form:
                    return " ".join(words[span[0] : span[-1] + 1])
    return ""


def _quoted(words: list[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)


def _count(n: int, noun: str) -> str:
    shown = f"{n / 1000:.1f}k" if n >= 1000 else str(n)
    return f"{shown} {noun}{'' if n == 1 else 's'}"


def _shorten(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
