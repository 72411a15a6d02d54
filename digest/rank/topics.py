"""Topics as the ranking reads them, and how much of a topic each paper covers.

A topic ("LLM agents") becomes its content stems (`llm`, `agent`), with any long form the
day defines an acronym for replaced by the acronym, so "large language model agents" and
"LLM agents" are the same topic. Each stem weighs its IDF over the day. A paper's coverage
of a topic is the weighted share of the topic's stems it has: anywhere (title or
abstract), and in its title. 1.0 means every content word is there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from digest.rank.index import PaperIndex
from digest.rank.text import STOPWORDS


@dataclass(frozen=True, eq=False)
class Topic:
    """One topic compiled against one index: its stems and their weights."""

    text: str
    stems: tuple[str, ...]
    weights: np.ndarray  # per stem, its IDF over the day

    @property
    def empty(self) -> bool:
        return not self.stems


def compile_topic(index: PaperIndex, text: str) -> Topic:
    """The stems of `text` (stop words kept only if it has nothing else), cached per index."""
    key = f"topic:{text}"
    cached = index.cache.get(key)
    if isinstance(cached, Topic):
        return cached
    stems = _replace_long_forms(index, _content_stems(index, text))
    weights = np.array(
        [
            index.idf[index.vocabulary[s]] if s in index.vocabulary else index.unseen_idf
            for s in stems
        ],
        dtype=np.float64,
    )
    topic = Topic(text, tuple(stems), weights)
    index.cache[key] = topic
    return topic


def coverage(index: PaperIndex, topics: Sequence[Topic]) -> tuple[np.ndarray, np.ndarray]:
    """Topics x papers: the weighted share of each topic's stems each paper has anywhere,
    and in its title."""
    rows, cols, data = [], [], []
    for row, topic in enumerate(topics):
        total = float(topic.weights.sum())
        for stem, weight in zip(topic.stems, topic.weights, strict=True):
            column = index.vocabulary.get(stem)
            if column is not None and total > 0:
                rows.append(row)
                cols.append(column)
                data.append(weight / total)
    shape = (len(topics), len(index.vocabulary))
    weights = sparse.csr_matrix((data, (rows, cols)), shape=shape, dtype=np.float64)
    anywhere = (weights @ index.anywhere.T).toarray()
    in_title = (weights @ index.in_title.T).toarray()
    return np.minimum(anywhere, 1.0), np.minimum(in_title, 1.0)


def _content_stems(index: PaperIndex, text: str) -> list[str]:
    runs, joined = index.analyzer.runs(text)
    if not runs:
        words = frozenset(w.lower() for w in text.split())
        runs, joined = index.analyzer.runs(text, keep=words & STOPWORDS)
    stems = [s for run in runs for s in run]
    # A hyphenated word counts once: as its parts (its joined form only adds recall when the
    # paper writes it joined, which the index records as the parts' joined stem too).
    return list(dict.fromkeys(stems or joined))


def _replace_long_forms(index: PaperIndex, stems: list[str]) -> list[str]:
    out: list[str] = []
    position = 0
    while position < len(stems):
        for long_form, acronym in index.acronyms.get(stems[position], ()):
            if tuple(stems[position : position + len(long_form)]) == long_form:
                out.append(acronym)
                position += len(long_form)
                break
        else:
            out.append(stems[position])
            position += 1
    return list(dict.fromkeys(out))
